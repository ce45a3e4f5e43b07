// Build the dashboard into ../services/api/ui/static: app.<hash>.js and app.<hash>.css (content
// hashes, so the API can let browsers cache them for good) and index.html pointing at them.
// Run with `npm run build` (or `make ui` from the repository root).

import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "services", "api", "ui", "static");
const assets = join(out, "assets");

const result = await esbuild.build({
  entryPoints: { app: join(here, "src", "main.ts") },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2022", "chrome110", "firefox115", "safari16"],
  legalComments: "eof",
  write: false,
  outdir: assets,
  logLevel: "warning",
});

mkdirSync(assets, { recursive: true });
for (const name of readdirSync(assets)) rmSync(join(assets, name));
const names = {};
for (const file of result.outputFiles) {
  const extension = file.path.endsWith(".css") ? "css" : "js";
  const hash = createHash("sha256").update(file.contents).digest("hex").slice(0, 10);
  names[extension] = `app.${hash}.${extension}`;
  writeFileSync(join(assets, names[extension]), file.contents);
  console.log(`${names[extension]}  ${(file.contents.length / 1024).toFixed(1)} kB`);
}
const page = readFileSync(join(here, "index.html"), "utf8").replace("{{js}}", names.js).replace("{{css}}", names.css);
writeFileSync(join(out, "index.html"), page);

// The shell: who the token is, the token prompt, navigation and the hash router.
// Routes live in the fragment (#/queues/emails?state=dead), so the server serves one page and
// every URL stays relative: the dashboard works under any path prefix.

import "./style.css";
import { api, ApiError, Identity, token } from "./api";
import { h, replace } from "./dom";
import { deadView } from "./views/dead";
import { lookupView } from "./views/lookup";
import { overview } from "./views/overview";
import { queueView } from "./views/queue";
import { scheduledView } from "./views/scheduled";
import { workersView } from "./views/workers";
import { Context, message, notice, statusElement, toastElement, View } from "./ui";

interface Route {
  view: View;
  title: string;
  /** Needs a token that may browse (viewer or admin); producers get task lookup only. */
  browse: boolean;
  nav?: string;
}

const ROUTES: Record<string, Route> = {
  "": { view: overview, title: "Overview", browse: true, nav: "Overview" },
  queues: { view: queueView, title: "Queue", browse: true },
  dead: { view: deadView, title: "Dead letters", browse: true, nav: "Dead letters" },
  scheduled: { view: scheduledView, title: "Scheduled", browse: true, nav: "Scheduled" },
  workers: { view: workersView, title: "Workers", browse: true, nav: "Workers" },
  task: { view: lookupView, title: "Find a task", browse: false, nav: "Find a task" },
};

const app = document.getElementById("app")!;
const main = h("main", { id: "main", tabindex: -1 });
let dispose: (() => void) | void;

function parse(): { path: string[]; params: URLSearchParams } {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?", 2);
  return { path: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query ?? "") };
}

function shell(ctx: Context): HTMLElement[] {
  const links = Object.entries(ROUTES)
    .filter(([, route]) => route.nav && (ctx.browse || !route.browse))
    .map(([key, route]) => h("a", { href: `#/${key}`, "data-route": key }, route.nav!));
  const signOut = ctx.auth
    ? h("button", { type: "button", class: "ghost small", onclick: () => { token.clear(); location.reload(); } }, "Sign out")
    : null;
  return [
    h("header", { class: "top" },
      h("a", { class: "brand", href: "#/" }, h("span", { class: "logo", "aria-hidden": "true" }), "dtq"),
      h("nav", { class: "primary", "aria-label": "Sections" }, links),
      h("div", { class: "who" }, statusElement, ctx.auth ? h("span", { class: `badge role ${ctx.role}` }, ctx.role) : null, signOut)),
    main,
    toastElement,
  ];
}

function route(ctx: Context, focus: boolean): void {
  if (dispose) dispose();
  const { path, params } = parse();
  let chosen = ROUTES[path[0] ?? ""] ?? ROUTES[""];
  if (chosen.browse && !ctx.browse) chosen = ROUTES.task;
  document.title = `dtq · ${chosen.title}`;
  for (const link of document.querySelectorAll<HTMLAnchorElement>("nav.primary a")) {
    const current = ROUTES[link.dataset.route ?? ""] === chosen;
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  dispose = chosen.view(main, params, ctx, path);
  if (focus) main.focus({ preventScroll: true });
}

function login(problem?: string): void {
  const input = h("input", { id: "token", name: "token", type: "password", required: true, autocomplete: "current-password", autofocus: true });
  const form = h(
    "form",
    { class: "login panel", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, h("span", { class: "logo", "aria-hidden": "true" }), "dtq"),
    h("p", null, "This API checks bearer tokens. Enter an admin token to manage queues, a viewer token to watch them, or a producer token to look up tasks. It is kept in this browser tab only."),
    problem ? notice(problem, "error") : null,
    h("label", { for: "token" }, "API token"),
    input,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    token.set(input.value.trim());
    void start();
  });
  if (dispose) dispose();
  replace(app, h("div", { class: "center" }, form));
  input.focus();
}

/** What the shell and views may offer: roles are checked by the API; this only hides what it would refuse. */
function contextOf(me: Identity): Context {
  return { role: me.role, browse: me.role !== "producer", manage: me.role === "admin", auth: me.auth };
}

let signedIn = false;

async function start(): Promise<void> {
  let ctx: Context;
  const had = token.get() !== null;
  try {
    const me = await api.whoami();
    ctx = contextOf(me);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      token.clear();
      return login(had ? "That token was not accepted." : undefined);
    }
    replace(app, h("div", { class: "center" }, notice(`Cannot reach the dtq API: ${message(error)}`, "error")));
    return;
  }
  signedIn = true;
  replace(app, shell(ctx));
  window.onhashchange = () => route(ctx, true);
  route(ctx, false);
}

window.addEventListener("dtq:unauthorized", () => {
  if (!signedIn) return; // start() answers a refused token itself
  signedIn = false;
  token.clear();
  window.onhashchange = null;
  login("The token is no longer accepted; enter one again.");
});

void start();

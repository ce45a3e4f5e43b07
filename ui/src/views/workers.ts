// Live workers, from their heartbeats.

import { api, Worker } from "../api";
import { h, replace, setText } from "../dom";
import { age, count, time } from "../format";
import { Column, LiveTable, numberCell, poll, View } from "../ui";

const EVERY_MS = 2000;
const STALE_SECONDS = 10;

const text = (get: (w: Worker) => string): Column<Worker>["render"] => (w, cell) => setText(cell, get(w));

const COLUMNS: Column<Worker>[] = [
  { id: "id", label: "Worker", sort: (w) => w.id, render: (w, cell) => { setText(cell, w.id); cell.className = "mono"; } },
  { id: "host", label: "Host", sort: (w) => w.host, render: text((w) => w.host) },
  { id: "pid", label: "PID", numeric: true, sort: (w) => w.pid, render: text((w) => String(w.pid)) },
  { id: "state", label: "State", sort: (w) => w.state, render: (w, cell) => {
    if (cell.textContent !== w.state) replace(cell, h("span", { class: `badge ${w.state}` }, w.state));
  } },
  { id: "queues", label: "Queues", render: text((w) => w.queues.join(", ") || "all") },
  { id: "in_flight", label: "In flight", numeric: true, sort: (w) => w.in_flight, render: (w, cell) => {
    let meter = cell.querySelector("meter");
    if (!meter) {
      meter = h("meter", { min: 0, "aria-hidden": "true" });
      cell.append(meter, h("span"));
    }
    meter.max = w.concurrency;
    meter.value = w.in_flight;
    setText(cell.lastChild!, ` ${w.in_flight} / ${w.concurrency}`);
  } },
  { id: "processed", label: "Processed", numeric: true, sort: (w) => w.processed, render: numberCell((w) => w.processed, count) },
  { id: "failed", label: "Failed", numeric: true, sort: (w) => w.failed, render: numberCell((w) => w.failed, count) },
  { id: "started", label: "Started", sort: (w) => w.started_at ?? "", render: text((w) => time(w.started_at)) },
  { id: "heartbeat", label: "Heartbeat", numeric: true, sort: (w) => w.heartbeat_age, render: (w, cell) => {
    setText(cell, `${age(w.heartbeat_age) === "—" ? "0 s" : age(w.heartbeat_age)} ago`);
    cell.classList.toggle("bad", w.heartbeat_age > STALE_SECONDS);
  } },
];

export const workersView: View = (root) => {
  const table = new LiveTable(COLUMNS, (w) => w.id, "Live workers", "No live workers.");
  const summary = h("span", { class: "muted" });
  replace(root, h("h1", null, "Workers"), h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", null, "Live workers"), summary), h("div", { class: "scroll" }, table.element)));
  return poll(async () => {
    const workers = await api.workers();
    table.update(workers);
    const busy = workers.reduce((sum, w) => sum + w.in_flight, 0);
    const slots = workers.reduce((sum, w) => sum + w.concurrency, 0);
    setText(summary, `${count(workers.length)} workers, ${count(busy)} of ${count(slots)} slots busy`);
  }, EVERY_MS);
};

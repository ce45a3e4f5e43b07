// A queue: counts per state as tabs, its tasks in the chosen state (filtered, paged), pause/resume.

import { api, Queue, STATES, State } from "../api";
import { button, h, replace, setText } from "../dom";
import { age, count } from "../format";
import { Pager, STATE_COLUMNS, taskTable } from "../tables";
import { act, message, notice, poll, reportOk, View } from "../ui";

const PAGE = 50;
const COUNTS_EVERY_MS = 3000;

const LABELS: Record<State, string> = {
  queued: "Queued",
  scheduled: "Scheduled",
  retrying: "Retrying",
  active: "Active",
  succeeded: "Succeeded",
  cancelled: "Cancelled",
  dead: "Dead",
};

function stateCount(queue: Queue, state: State): number {
  return state === "queued" ? queue.ready : queue[state];
}

export const queueView: View = (root, params, ctx, path) => {
  const name = path[1] ?? "";
  const state: State = (STATES as readonly string[]).includes(params.get("state") ?? "") ? (params.get("state") as State) : "queued";
  const taskName = params.get("task") ?? "";
  const priority = params.get("priority") ?? "";
  const link = (s: State): string => {
    const query = new URLSearchParams({ state: s });
    if (taskName) query.set("task", taskName);
    if (priority) query.set("priority", priority);
    return `#/queues/${encodeURIComponent(name)}?${query}`;
  };

  const badge = h("span", { class: "badge" });
  const age_ = h("span", { class: "muted" });
  const control = h("span");
  const tabCounts = new Map<State, HTMLElement>();
  const tabs = h(
    "nav",
    { class: "tabs", "aria-label": "Task states" },
    STATES.map((s) => {
      const counter = h("span", { class: "count" }, "…");
      tabCounts.set(s, counter);
      return h("a", { href: link(s), "aria-current": s === state ? "page" : null, "data-state": s }, LABELS[s], " ", counter);
    }),
  );
  const taskInput = h("input", { name: "task", type: "search", value: taskName, placeholder: "any", id: "filter-task" });
  const prioritySelect = h("select", { name: "priority", id: "filter-priority" }, h("option", { value: "" }, "any"),
    Array.from({ length: 10 }, (_, p) => h("option", { value: String(9 - p), selected: priority === String(9 - p) }, String(9 - p))));
  const filters = h(
    "form",
    { class: "filters", role: "search" },
    h("label", { for: "filter-task" }, "Task name"),
    taskInput,
    h("label", { for: "filter-priority" }, "Priority"),
    prioritySelect,
    h("button", { type: "submit", class: "primary" }, "Filter"),
    taskName || priority ? h("a", { href: `#/queues/${encodeURIComponent(name)}?state=${state}` }, "Clear") : null,
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams({ state });
    if (taskInput.value.trim()) query.set("task", taskInput.value.trim());
    if (prioritySelect.value) query.set("priority", prioritySelect.value);
    location.hash = `#/queues/${encodeURIComponent(name)}?${query}`;
  });
  const list = h("div", { class: "scroll", "aria-live": "polite", "aria-busy": "true" });
  const pagerHost = h("div");

  replace(
    root,
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Overview"), " / queue"),
    h("div", { class: "title-row" }, h("h1", null, name), badge, age_, control),
    tabs,
    h("section", { class: "panel" }, filters, list, pagerHost),
  );

  let paused: boolean | null = null;
  const renderControl = (queue: Queue): void => {
    setText(badge, queue.paused ? "paused" : "running");
    badge.className = `badge ${queue.paused ? "paused" : "running"}`;
    setText(age_, queue.ready ? `oldest ready ${age(queue.oldest_ready_age)}` : "");
    if (!ctx.manage || paused === queue.paused) return;
    paused = queue.paused;
    const verb = queue.paused ? "Resume" : "Pause";
    replace(control, button(`${verb} queue`, async () => {
      const ok = await act(async () => {
        renderControl(await (queue.paused ? api.resume(name) : api.pause(name)));
        return `${verb === "Pause" ? "Paused" : "Resumed"} ${name}.`;
      });
      if (!ok) paused = null;
    }, { class: queue.paused ? "primary" : "", "data-action": verb.toLowerCase() }));
  };

  const pager = new Pager<number>();
  const loadTasks = async (): Promise<void> => {
    list.setAttribute("aria-busy", "true");
    try {
      const page = await api.tasks(name, { state, task: taskName, priority, limit: PAGE, cursor: pager.current ?? 0 });
      const start = pager.current ?? 0;
      replace(list, taskTable(page.tasks, STATE_COLUMNS[state], ctx, () => void loadTasks(), `No ${LABELS[state].toLowerCase()} tasks${taskName || priority ? " match" : ""}.`));
      const filtered = taskName || priority;
      const summary = page.tasks.length ? (filtered ? `Matches from position ${count(start + 1)} of ${count(page.total)}` : `${count(start + 1)}–${count(start + page.tasks.length)} of ${count(page.total)}`) : "";
      replace(pagerHost, pager.controls(page.next_cursor, () => void loadTasks(), summary));
      reportOk();
    } catch (error) {
      replace(list, notice(message(error), "error"));
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  };
  filters.append(button("Refresh", () => loadTasks(), { class: "ghost" }));
  void loadTasks();
  document.title = `dtq · ${name}`;

  return poll(async () => {
    const queue = await api.queue(name);
    for (const s of STATES) setText(tabCounts.get(s)!, count(stateCount(queue, s)));
    renderControl(queue);
  }, COUNTS_EVERY_MS);
};

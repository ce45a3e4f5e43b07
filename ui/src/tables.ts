// Static (not live) task tables: the columns that matter for each state.

import { Task } from "./api";
import { button, Child, h } from "./dom";
import { count, relative, shortId, time } from "./format";
import { cancellable, cancelTask, redriveTask, showTask } from "./record";
import { Context } from "./ui";

interface TaskColumn {
  label: string;
  numeric?: boolean;
  cell: (task: Task) => Child | Child[];
}

const when = (iso: string | null): Child => (iso ? h("time", { datetime: iso, title: iso }, time(iso)) : "—");
const due = (iso: string | null): Child => (iso ? h("time", { datetime: iso, title: iso }, `${time(iso)} (${relative(iso)})`) : "—");
const error = (task: Task): Child => (task.error ? h("span", { class: "error-text", title: task.error.message }, `${task.error.type}: ${task.error.message}`) : "—");

const COLUMNS: Record<string, TaskColumn> = {
  queue: { label: "Queue", cell: (t) => h("a", { href: `#/queues/${encodeURIComponent(t.queue)}` }, t.queue) },
  task: { label: "Task", cell: (t) => t.task },
  priority: { label: "Priority", numeric: true, cell: (t) => t.priority },
  attempts: { label: "Attempts", numeric: true, cell: (t) => count(t.attempts) },
  enqueued: { label: "Enqueued", cell: (t) => when(t.enqueued_at) },
  due: { label: "Due", cell: (t) => due(t.scheduled_for) },
  nextTry: { label: "Next try", cell: (t) => due(t.scheduled_for) },
  started: { label: "Started", cell: (t) => when(t.started_at) },
  finished: { label: "Finished", cell: (t) => when(t.finished_at) },
  died: { label: "Died", cell: (t) => when(t.finished_at) },
  worker: { label: "Worker", cell: (t) => (t.worker ? h("span", { class: "mono" }, t.worker) : "—") },
  error: { label: "Error", cell: error },
};

export const STATE_COLUMNS: Record<string, string[]> = {
  queued: ["task", "priority", "enqueued", "attempts"],
  scheduled: ["task", "priority", "due", "enqueued"],
  retrying: ["task", "attempts", "nextTry", "error"],
  active: ["task", "priority", "started", "worker", "attempts"],
  succeeded: ["task", "finished", "worker", "attempts"],
  cancelled: ["task", "finished", "attempts"],
  dead: ["task", "died", "attempts", "error"],
  deadLetters: ["queue", "task", "died", "attempts", "error"],
  upcoming: ["due", "queue", "task", "priority"],
};

/** A table of `tasks`, each row opening the full record; admins get the row's action. */
export function taskTable(tasks: Task[], columns: string[], ctx: Context, changed: () => void, empty: string): HTMLTableElement {
  const chosen = columns.map((name) => COLUMNS[name]);
  const head = h("tr", null, h("th", { scope: "col" }, "ID"), chosen.map((c) => h("th", { scope: "col", class: c.numeric ? "num" : null }, c.label)),
    ctx.manage ? h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")) : null);
  const rows = tasks.map((task) =>
    h(
      "tr",
      { "data-id": task.id },
      h("td", null, h("button", { type: "button", class: "link mono", title: task.id, "aria-label": `Inspect task ${task.id}`,
        onclick: () => showTask(task.id, task.queue, ctx, changed) }, shortId(task.id))),
      chosen.map((c) => h("td", { class: c.numeric ? "num" : null }, c.cell(task))),
      ctx.manage ? h("td", { class: "row-actions" }, rowAction(task, changed)) : null,
    ),
  );
  if (!rows.length) rows.push(h("tr", { class: "empty" }, h("td", { colspan: chosen.length + 2 }, empty)));
  return h("table", { class: "grid" }, h("thead", null, head), h("tbody", null, rows));
}

function rowAction(task: Task, changed: () => void): Child {
  if (task.state === "dead") {
    return button("Redrive", async () => (await redriveTask(task)) && changed(), { class: "small", "data-action": "redrive", "aria-label": `Redrive task ${task.id}` });
  }
  if (cancellable(task) && !task.cancel_requested) {
    return button("Cancel", async () => (await cancelTask(task)) && changed(), { class: "small danger", "data-action": "cancel", "aria-label": `Cancel task ${task.id}` });
  }
  return null;
}

/** Previous / next over cursor-paged results; `cursors` holds the cursor of each page seen. */
export class Pager<C> {
  private readonly cursors: (C | null)[] = [null];

  get current(): C | null {
    return this.cursors[this.cursors.length - 1];
  }

  get page(): number {
    return this.cursors.length;
  }

  controls(next: C | null, reload: () => void, summary: string): HTMLElement {
    return h(
      "nav",
      { class: "pager", "aria-label": "Pages" },
      h("span", { class: "muted" }, summary),
      h("button", { type: "button", disabled: this.cursors.length === 1, onclick: () => { this.cursors.pop(); reload(); } }, "← Previous"),
      h("button", { type: "button", disabled: next === null, onclick: () => { this.cursors.push(next); reload(); } }, "Next →"),
    );
  }
}

// One task's full record, inline (task lookup) or in a modal (from any list), with the admin
// actions its state allows.

import { api, Task } from "./api";
import { button, h, replace } from "./dom";
import { json, time } from "./format";
import { act, confirmAction, Context, message, notice } from "./ui";

const WAITING = new Set(["queued", "scheduled", "retrying", "active"]);

export function cancellable(task: Task): boolean {
  return WAITING.has(task.state);
}

/** Ask, then cancel; true if it was cancelled (or asked to stop, when running). */
export async function cancelTask(task: Task): Promise<boolean> {
  const running = task.state === "active";
  const ok = await confirmAction(
    "Cancel this task?",
    running
      ? `${task.task} (${task.id}) is running: its worker will be asked to stop it.`
      : `${task.task} (${task.id}) will not run. This cannot be undone.`,
    "Cancel task",
    true,
  );
  return ok && act(async () => {
    const outcome = await api.cancel(task.id, task.queue);
    return running ? `Asked the worker to stop ${task.id}.` : `Cancelled ${task.id} (${outcome.state}).`;
  });
}

export async function redriveTask(task: Task): Promise<boolean> {
  const ok = await confirmAction("Redrive this task?", `${task.task} (${task.id}) goes back to ${task.queue} with a fresh set of retries.`, "Redrive");
  return ok && act(async () => {
    await api.redrive(task.id, task.queue);
    return `Redrove ${task.id} to ${task.queue}.`;
  });
}

function field(label: string, value: string | number | null | undefined, mono = false): HTMLElement[] {
  const text = value === null || value === undefined || value === "" ? "—" : String(value);
  return [h("dt", null, label), h("dd", { class: mono ? "mono" : null }, text)];
}

function block(label: string, text: string, kind = ""): HTMLElement {
  return h("section", { class: "block" }, h("h3", null, label), h("pre", { class: kind, tabindex: 0 }, text));
}

/** The record as a definition list and code blocks, with action buttons for admins. */
export function renderRecord(task: Task, ctx: Context, changed: () => void): HTMLElement {
  const actions: HTMLElement[] = [];
  if (ctx.manage && cancellable(task)) {
    actions.push(button("Cancel task", async () => (await cancelTask(task)) && changed(), { class: "danger", "data-action": "cancel" }));
  }
  if (ctx.manage && task.state === "dead") {
    actions.push(button("Redrive", async () => (await redriveTask(task)) && changed(), { class: "primary", "data-action": "redrive" }));
  }
  return h(
    "div",
    { class: "record", "data-task": task.id },
    h(
      "dl",
      null,
      field("ID", task.id, true),
      field("Queue", task.queue),
      field("State", task.cancel_requested ? `${task.state} (cancel requested)` : task.state),
      field("Priority", task.priority),
      field("Attempts", `${task.attempts} of ${task.max_retries + 1}`),
      field("Timeout", `${task.timeout} s`),
      field("Idempotency key", task.key, true),
      field("Worker", task.worker, true),
      field("Enqueued", time(task.enqueued_at)),
      field("Scheduled for", time(task.scheduled_for)),
      field("Started", time(task.started_at)),
      field("Finished", time(task.finished_at)),
    ),
    block("Payload", json(task.payload)),
    task.result !== null && task.result !== undefined ? block("Result", json(task.result)) : null,
    task.error ? block("Error", `${task.error.type}: ${task.error.message}`, "error") : null,
    task.error?.traceback ? block("Traceback", task.error.traceback, "error") : null,
    actions.length ? h("div", { class: "actions" }, actions) : null,
  );
}

/** Open the record of `id` in a modal; `changed` runs after an action succeeded. */
export function showTask(id: string, queue: string | undefined, ctx: Context, changed: () => void): void {
  const body = h("div", { class: "dialog-body" }, h("p", { class: "muted" }, "Loading…"));
  const title = h("h2", { id: "record-title" }, "Task");
  const dialog = h(
    "dialog",
    { class: "record-dialog", "aria-labelledby": "record-title" },
    h("div", { class: "dialog-head" }, title, h("form", { method: "dialog" }, h("button", { type: "submit", class: "ghost", "aria-label": "Close" }, "Close"))),
    body,
  );
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  const load = async (): Promise<void> => {
    try {
      const task = await api.task(id, queue);
      title.textContent = task.task;
      replace(body, renderRecord(task, ctx, () => {
        changed();
        void load();
      }));
    } catch (error) {
      replace(body, notice(message(error), "error"));
    }
  };
  void load();
}

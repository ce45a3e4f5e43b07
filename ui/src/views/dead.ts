// Dead letters: filter by queue and task name, inspect, redrive one / the filtered / all, purge.

import { api, Queue } from "../api";
import { button, h, replace } from "../dom";
import { count } from "../format";
import { Pager, STATE_COLUMNS, taskTable } from "../tables";
import { act, confirmAction, message, notice, reportOk, View } from "../ui";

const PAGE = 50;

export const deadView: View = (root, params, ctx) => {
  const queue = params.get("queue") ?? "";
  const task = params.get("task") ?? "";
  const filter = { queue, task };
  const scope = [queue ? `queue ${queue}` : "every queue", task ? `named ${task}` : null].filter(Boolean).join(", ");

  const queueSelect = h("select", { name: "queue", id: "dead-queue" }, h("option", { value: "" }, "All queues"));
  const taskInput = h("input", { name: "task", type: "search", id: "dead-task", value: task, placeholder: "any" });
  const form = h(
    "form",
    { class: "filters", role: "search" },
    h("label", { for: "dead-queue" }, "Queue"),
    queueSelect,
    h("label", { for: "dead-task" }, "Task name"),
    taskInput,
    h("button", { type: "submit", class: "primary" }, "Filter"),
    queue || task ? h("a", { href: "#/dead" }, "Clear") : null,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    if (queueSelect.value) query.set("queue", queueSelect.value);
    if (taskInput.value.trim()) query.set("task", taskInput.value.trim());
    location.hash = `#/dead?${query}`;
  });

  const bulk = h("div", { class: "bulk" });
  const list = h("div", { class: "scroll", "aria-busy": "true" });
  const pagerHost = h("div");
  replace(root, h("h1", null, "Dead letters"), h("section", { class: "panel" }, form, bulk, list, pagerHost));

  const pager = new Pager<string>();
  const load = async (): Promise<void> => {
    list.setAttribute("aria-busy", "true");
    try {
      const [queues, page] = await Promise.all([api.queues(), api.dead({ ...filter, limit: PAGE, cursor: pager.current })]);
      renderQueues(queues);
      replace(list, taskTable(page.tasks, STATE_COLUMNS.deadLetters, ctx, () => void load(), `No dead tasks in ${scope}.`));
      replace(pagerHost, pager.controls(page.next_cursor, () => void load(), `Page ${pager.page}, newest first`));
      reportOk();
    } catch (error) {
      replace(list, notice(message(error), "error"));
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  };

  const renderQueues = (queues: Queue[]): void => {
    replace(queueSelect, h("option", { value: "" }, "All queues"),
      queues.map((q) => h("option", { value: q.name, selected: q.name === queue }, `${q.name} (${count(q.dead)})`)));
    const total = queues.filter((q) => !queue || q.name === queue).reduce((sum, q) => sum + q.dead, 0);
    const what = task ? `the dead tasks of ${scope}` : `all ${count(total)} dead tasks of ${scope}`;
    replace(
      bulk,
      h("span", { class: "muted" }, task ? `Dead tasks in ${scope}` : `${count(total)} dead in ${scope}`),
      ctx.manage && (task || total > 0)
        ? [
            button(task ? "Redrive matching" : `Redrive all (${count(total)})`, async () => {
              if (!(await confirmAction("Redrive dead tasks?", `Requeue ${what}, each with a fresh set of retries.`, "Redrive"))) return;
              if (await act(async () => `Redrove ${count((await api.redriveAll(filter)).count)} tasks.`)) await load();
            }, { class: "primary", "data-action": "redrive-all" }),
            button(task ? "Purge matching" : `Purge all (${count(total)})`, async () => {
              if (!(await confirmAction("Purge dead tasks?", `Delete ${what} for good. This cannot be undone.`, "Purge", true))) return;
              if (await act(async () => `Purged ${count((await api.purge(filter)).count)} tasks.`)) await load();
            }, { class: "danger", "data-action": "purge-all" }),
          ]
        : null,
    );
  };

  void load();
};

// Scheduled: what is due next, across queues (the head of each queue's schedule, merged).

import { api, Task } from "../api";
import { h, replace } from "../dom";
import { count } from "../format";
import { STATE_COLUMNS, taskTable } from "../tables";
import { message, notice, poll, View } from "../ui";

const SHOWN = 50;
const PARALLEL = 6;
const EVERY_MS = 5000;

/** Map `items` through `work`, at most `limit` at a time. */
async function pooled<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

export const scheduledView: View = (root, params, ctx) => {
  const only = params.get("queue") ?? "";
  const select = h("select", { id: "scheduled-queue", "aria-label": "Queue" });
  select.addEventListener("change", () => (location.hash = select.value ? `#/scheduled?queue=${encodeURIComponent(select.value)}` : "#/scheduled"));
  const summary = h("span", { class: "muted" });
  const list = h("div", { class: "scroll" });
  replace(
    root,
    h("h1", null, "Scheduled"),
    h("section", { class: "panel" },
      h("div", { class: "panel-head" }, h("h2", null, "Due next"), h("div", { class: "filters" }, h("label", { for: "scheduled-queue" }, "Queue"), select)),
      summary, list),
  );

  const load = async (): Promise<void> => {
    const queues = (await api.queues()).filter((q) => q.scheduled > 0 || q.name === only);
    const names = only ? [only] : queues.map((q) => q.name);
    const heads = await pooled(names, PARALLEL, (name) => api.tasks(name, { state: "scheduled", limit: SHOWN }));
    const upcoming: Task[] = heads.flatMap((page) => page.tasks)
      .sort((a, b) => (a.scheduled_for ?? "").localeCompare(b.scheduled_for ?? ""))
      .slice(0, SHOWN);
    const total = heads.reduce((sum, page) => sum + page.total, 0);
    if (select.options.length !== queues.length + 1) {
      replace(select, h("option", { value: "" }, "All queues"),
        queues.map((q) => h("option", { value: q.name, selected: q.name === only }, `${q.name} (${count(q.scheduled)})`)));
    }
    replace(summary, `${count(total)} scheduled in ${only ? `queue ${only}` : `${count(names.length)} queues`}; the next ${count(upcoming.length)} by due time. `,
      only ? h("a", { href: `#/queues/${encodeURIComponent(only)}?state=scheduled` }, "Page through all of them") : null);
    replace(list, taskTable(upcoming, STATE_COLUMNS.upcoming, ctx, () => void load(), "Nothing is scheduled."));
  };
  return poll(async () => {
    try {
      await load();
    } catch (error) {
      replace(list, notice(message(error), "error"));
      throw error;
    }
  }, EVERY_MS);
};

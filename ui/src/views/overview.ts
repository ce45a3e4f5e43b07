// Overview: totals, throughput and failure-rate charts for the last hour, and every queue.

import { api, Minute, Queue } from "../api";
import { Chart } from "../charts";
import { button, h, replace, setText } from "../dom";
import { age, count } from "../format";
import { act, Column, LiveTable, numberCell, poll, View } from "../ui";

const QUEUES_EVERY_MS = 2000;
const STATS_EVERY_MS = 10000; // per-minute buckets; /stats reads 60 hashes per queue

const TOTALS: [keyof Queue, string][] = [
  ["ready", "Ready"],
  ["scheduled", "Scheduled"],
  ["active", "Active"],
  ["retrying", "Retrying"],
  ["dead", "Dead"],
];

export const overview: View = (root, _params, ctx) => {
  const cards = TOTALS.map(([field, label]) => {
    const value = h("span", { class: "value", "data-total": field }, "…");
    return { field, element: h("div", { class: `card ${field}` }, h("span", { class: "label" }, label), value), value };
  });
  const queueCount = h("span", { class: "value", "data-total": "queues" }, "…");
  const throughputHost = h("div", { class: "chart" });
  const failureHost = h("div", { class: "chart" });
  const throughputSummary = h("p", { class: "chart-summary" });
  const failureSummary = h("p", { class: "chart-summary" });
  const search = h("input", { type: "search", placeholder: "Filter queues", "aria-label": "Filter queues by name" });

  const table = new LiveTable<Queue>(queueColumns(ctx.manage, () => void refreshQueues()), (q) => q.name, "Queues", "No queues yet: enqueue a task to create one.");
  search.addEventListener("input", () => {
    const needle = search.value.trim().toLowerCase();
    table.filter = (q) => q.name.toLowerCase().includes(needle);
    table.update(latest);
  });

  replace(
    root,
    h("h1", null, "Overview"),
    h("section", { class: "cards", "aria-label": "Totals" }, cards.map((c) => c.element),
      h("div", { class: "card" }, h("span", { class: "label" }, "Queues"), queueCount)),
    h(
      "section",
      { class: "charts" },
      h("figure", { class: "panel" }, h("figcaption", null, "Throughput, last hour (tasks per minute)"), throughputHost, throughputSummary),
      h("figure", { class: "panel" }, h("figcaption", null, "Failure rate, last hour (failed ÷ processed)"), failureHost, failureSummary),
    ),
    h("section", { class: "panel", "aria-labelledby": "queues-heading" },
      h("div", { class: "panel-head" }, h("h2", { id: "queues-heading" }, "Queues"), search),
      h("div", { class: "scroll" }, table.element)),
  );

  const throughput = new Chart(throughputHost, {
    unit: "",
    floor: 5,
    series: [
      { label: "Enqueued", color: "--series-enqueued" },
      { label: "Processed", color: "--series-processed", fill: true },
      { label: "Failed", color: "--series-failed" },
    ],
  });
  const failures = new Chart(failureHost, { unit: "%", floor: 5, ceiling: 100, series: [{ label: "Failure rate", color: "--series-failed", fill: true }] });

  let latest: Queue[] = [];
  const refreshQueues = async (): Promise<void> => {
    latest = await api.queues();
    table.update(latest);
    for (const card of cards) {
      const total = latest.reduce((sum, q) => sum + (q[card.field] as number), 0);
      setText(card.value, count(total));
      card.element.classList.toggle("nonzero", total > 0);
    }
    const paused = latest.filter((q) => q.paused).length;
    setText(queueCount, paused ? `${count(latest.length)} (${paused} paused)` : count(latest.length));
  };
  const refreshStats = async (): Promise<void> => {
    const minutes = await api.stats(60);
    throughput.set(throughputData(minutes));
    failures.set(failureData(minutes));
    const processed = minutes.reduce((sum, m) => sum + m.processed, 0);
    const failed = minutes.reduce((sum, m) => sum + m.failed, 0);
    const enqueued = minutes.reduce((sum, m) => sum + m.enqueued, 0);
    setText(throughputSummary, `${count(enqueued)} enqueued, ${count(processed)} processed in the last hour.`);
    setText(failureSummary, processed ? `${count(failed)} of ${count(processed)} attempts failed (${((100 * failed) / processed).toFixed(1)} %).` : "No attempts in the last hour.");
  };

  let first = true;
  const stops = [
    poll(async () => {
      if (!first) return refreshQueues();
      first = false;
      // One after the other: /stats is the heavier call, and the table should not wait for it.
      // The two marks are the overview's load time (read by tests/ui/bench_load.py).
      await refreshQueues();
      performance.mark("dtq:queues-rendered");
      await refreshStats();
      performance.mark("dtq:overview-rendered");
    }, QUEUES_EVERY_MS),
  ];
  const statsTimer = window.setTimeout(() => stops.push(poll(refreshStats, STATS_EVERY_MS)), STATS_EVERY_MS);
  return () => {
    window.clearTimeout(statsTimer);
    stops.forEach((stop) => stop());
    throughput.destroy();
    failures.destroy();
  };
};

function throughputData(minutes: Minute[]): [number[], number[], number[], number[]] {
  return [
    minutes.map((m) => Date.parse(m.start) / 1000),
    minutes.map((m) => m.enqueued),
    minutes.map((m) => m.processed),
    minutes.map((m) => m.failed),
  ];
}

function failureData(minutes: Minute[]): [number[], (number | null)[]] {
  return [minutes.map((m) => Date.parse(m.start) / 1000), minutes.map((m) => (m.processed ? (100 * m.failed) / m.processed : null))];
}

function priorities(queue: Queue, cell: HTMLTableCellElement): void {
  const parts = Object.entries(queue.ready_by_priority)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => Number(b) - Number(a));
  const text = parts.map(([p, n]) => `${p}:${n}`).join(" ");
  if (cell.dataset.text === text) return;
  cell.dataset.text = text;
  replace(cell, parts.map(([p, n]) => h("span", { class: "chip", title: `priority ${p}: ${count(n)} ready` }, `P${p} ${count(n)}`)));
}

function queueColumns(manage: boolean, changed: () => void): Column<Queue>[] {
  const columns: Column<Queue>[] = [
    {
      id: "name",
      label: "Queue",
      sort: (q) => q.name,
      render: (q, cell) => {
        if (!cell.firstChild) cell.append(h("a", { href: `#/queues/${encodeURIComponent(q.name)}` }, q.name));
      },
    },
    {
      id: "status",
      label: "Status",
      sort: (q) => (q.paused ? 0 : 1),
      render: (q, cell) => {
        const label = q.paused ? "paused" : "running";
        if (cell.textContent !== label) replace(cell, h("span", { class: `badge ${label}` }, label));
      },
    },
    { id: "ready", label: "Ready", numeric: true, sort: (q) => q.ready, render: numberCell((q) => q.ready, count) },
    { id: "priority", label: "Ready by priority", render: priorities },
    { id: "scheduled", label: "Scheduled", numeric: true, sort: (q) => q.scheduled, render: numberCell((q) => q.scheduled, count) },
    { id: "active", label: "Active", numeric: true, sort: (q) => q.active, render: numberCell((q) => q.active, count) },
    { id: "retrying", label: "Retrying", numeric: true, sort: (q) => q.retrying, render: numberCell((q) => q.retrying, count) },
    {
      id: "dead",
      label: "Dead",
      numeric: true,
      sort: (q) => q.dead,
      render: (q, cell) => {
        numberCell<Queue>((x) => x.dead, count)(q, cell);
        cell.classList.toggle("bad", q.dead > 0);
      },
    },
    { id: "succeeded", label: "Succeeded", numeric: true, sort: (q) => q.succeeded, render: numberCell((q) => q.succeeded, count) },
    { id: "age", label: "Oldest ready", numeric: true, sort: (q) => q.oldest_ready_age, render: numberCell((q) => q.oldest_ready_age, age) },
  ];
  if (manage) {
    columns.push({
      id: "actions",
      label: "Actions",
      render: (q, cell) => {
        const wanted = q.paused ? "Resume" : "Pause";
        if (cell.textContent === wanted) return;
        replace(
          cell,
          button(wanted, async () => {
            const ok = await act(async () => {
              await (q.paused ? api.resume(q.name) : api.pause(q.name));
              return `${q.paused ? "Resumed" : "Paused"} ${q.name}.`;
            });
            if (ok) changed();
          }, { class: "small", "aria-label": `${wanted} queue ${q.name}` }),
        );
      },
    });
  }
  return columns;
}

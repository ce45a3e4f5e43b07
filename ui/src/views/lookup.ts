// Find a task by id: the one page a producer token can use (it may read tasks, not browse queues).

import { api } from "../api";
import { h, replace } from "../dom";
import { renderRecord } from "../record";
import { message, notice, View } from "../ui";

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

export const lookupView: View = (root, params, ctx) => {
  const id = (params.get("id") ?? "").trim().toLowerCase();
  const input = h("input", { id: "lookup-id", name: "id", value: id, pattern: UUID, required: true, size: 40, class: "mono", autocomplete: "off", spellcheck: "false" });
  const form = h("form", { class: "filters", role: "search" }, h("label", { for: "lookup-id" }, "Task ID"), input, h("button", { type: "submit", class: "primary" }, "Find"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/task?id=${encodeURIComponent(input.value.trim().toLowerCase())}`;
  });
  const result = h("div");
  replace(
    root,
    h("h1", null, "Find a task"),
    ctx.browse ? null : notice("This is a producer token: it can enqueue tasks and read them by id. Queues, workers and dead letters need a viewer or admin token."),
    h("section", { class: "panel" }, form, result),
  );
  const load = async (): Promise<void> => {
    try {
      replace(result, renderRecord(await api.task(id), ctx, () => void load()));
    } catch (error) {
      replace(result, notice(message(error), "error"));
    }
  };
  if (new RegExp(`^${UUID}$`).test(id)) void load();
  else if (id) replace(result, notice("That is not a task id (a UUID).", "error"));
  else input.focus();
};

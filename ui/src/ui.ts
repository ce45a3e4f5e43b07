// Pieces every view uses: the view contract, live polling, the status line, toasts, the
// confirmation dialog and a keyed table that updates in place.

import { ApiError, Role } from "./api";
import { Child, h, replace, setText } from "./dom";

export interface Context {
  /** The token's role (admin when the API has no tokens). */
  role: Role;
  /** The token may read queues, dead letters, workers and stats: viewer or admin. */
  browse: boolean;
  /** The token may change things (cancel, pause, resume, redrive, purge): admin only. */
  manage: boolean;
  /** The API checks tokens (so "Sign out" makes sense). */
  auth: boolean;
}

/** A view renders into `root` and returns what stops its timers. */
export type View = (root: HTMLElement, params: URLSearchParams, ctx: Context, path: string[]) => (() => void) | void;

const statusLine = h("span", { class: "status", id: "status" });
export const statusElement = statusLine;

export function reportOk(): void {
  statusLine.className = "status ok";
  setText(statusLine, `Live · updated ${new Date().toLocaleTimeString()}`);
}

export function reportError(error: unknown): void {
  statusLine.className = "status error";
  setText(statusLine, `${message(error)} Retrying…`);
}

export function message(error: unknown): string {
  if (error instanceof ApiError) return error.status ? `${error.message} (${error.status})` : error.message;
  return error instanceof Error ? error.message : String(error);
}

/** Run `load` now and every `ms` after each run ends, skipping while the tab is hidden. */
export function poll(load: () => Promise<void>, ms: number): () => void {
  let stopped = false;
  let timer = 0;
  const tick = async (): Promise<void> => {
    if (stopped) return;
    if (!document.hidden) {
      try {
        await load();
        reportOk();
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 401)) reportError(error);
      }
    }
    if (!stopped) timer = window.setTimeout(tick, ms);
  };
  void tick();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

const toastRegion = h("div", { class: "toast", role: "status", "aria-live": "polite" });
export const toastElement = toastRegion;
let toastTimer = 0;

export function toast(text: string, kind: "ok" | "error" = "ok"): void {
  toastRegion.className = `toast ${kind} shown`;
  setText(toastRegion, text);
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => (toastRegion.className = "toast"), 5000);
}

/** Run a managing action, toast its outcome; returns whether it worked. */
export async function act(action: () => Promise<string>): Promise<boolean> {
  try {
    toast(await action());
    return true;
  } catch (error) {
    toast(message(error), "error");
    return false;
  }
}

let dialogs = 0;

/** A modal asking to confirm; Cancel has the focus, so Enter alone never destroys anything. */
export function confirmAction(title: string, body: Child, confirm: string, danger = false): Promise<boolean> {
  const id = `confirm-${++dialogs}`;
  const dialog = h(
    "dialog",
    { class: "confirm", "aria-labelledby": id },
    h(
      "form",
      { method: "dialog" },
      h("h2", { id }, title),
      h("p", null, body),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", value: "cancel", autofocus: true }, "Cancel"),
        h("button", { type: "submit", value: "confirm", class: danger ? "danger" : "primary" }, confirm),
      ),
    ),
  );
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      dialog.remove();
    });
  });
}

export function notice(text: Child, kind: "info" | "error" = "info"): HTMLElement {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : null }, text);
}

export interface Column<T> {
  id: string;
  label: string;
  numeric?: boolean;
  sort?: (row: T) => number | string;
  /** Fill or update the cell for `row` (called on every refresh, so keep it idempotent). */
  render: (row: T, cell: HTMLTableCellElement) => void;
}

/** A table whose rows are keyed, updated in place (focus and scroll survive a refresh) and
 * sortable by clicking a column header. */
export class LiveTable<T> {
  readonly element: HTMLTableElement;
  private readonly body = h("tbody");
  private readonly rows = new Map<string, HTMLTableRowElement>();
  private readonly headers: HTMLTableCellElement[] = [];
  private data: T[] = [];
  private sortBy: Column<T> | null = null;
  private descending = false;
  filter: (row: T) => boolean = () => true;

  constructor(
    private readonly columns: Column<T>[],
    private readonly key: (row: T) => string,
    caption: string,
    private readonly empty: string,
  ) {
    const headRow = h("tr");
    for (const column of columns) {
      const th = h("th", { scope: "col", class: column.numeric ? "num" : null });
      if (column.sort) {
        th.append(h("button", { type: "button", class: "sort", onclick: () => this.sortOn(column) }, column.label));
      } else {
        th.textContent = column.label;
      }
      this.headers.push(th);
      headRow.append(th);
    }
    this.element = h("table", { class: "grid" }, h("caption", { class: "sr-only" }, caption), h("thead", null, headRow), this.body);
  }

  private sortOn(column: Column<T>): void {
    this.descending = this.sortBy === column ? !this.descending : column.numeric === true;
    this.sortBy = column;
    this.headers.forEach((th, index) => {
      const sorted = this.columns[index] === column;
      if (sorted) th.setAttribute("aria-sort", this.descending ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    });
    this.update(this.data);
  }

  update(data: T[]): void {
    this.data = data;
    let shown = data.filter(this.filter);
    const sort = this.sortBy?.sort;
    if (sort) {
      const sign = this.descending ? -1 : 1;
      shown = [...shown].sort((a, b) => {
        const x = sort(a);
        const y = sort(b);
        return (x < y ? -1 : x > y ? 1 : 0) * sign;
      });
    }
    const wanted = new Set<string>();
    const order: HTMLTableRowElement[] = [];
    for (const item of shown) {
      const key = this.key(item);
      wanted.add(key);
      let row = this.rows.get(key);
      if (!row) {
        row = h("tr", { "data-key": key });
        for (const column of this.columns) row.append(h("td", { "data-col": column.id, class: column.numeric ? "num" : null }));
        this.rows.set(key, row);
      }
      this.columns.forEach((column, index) => column.render(item, row.cells[index]));
      order.push(row);
    }
    for (const [key, row] of this.rows) {
      if (!wanted.has(key)) {
        row.remove();
        this.rows.delete(key);
      }
    }
    const current = Array.from(this.body.rows);
    if (current.length !== order.length || current.some((row, index) => row !== order[index])) {
      replace(this.body, order);
    }
    if (order.length === 0) {
      replace(this.body, h("tr", { class: "empty" }, h("td", { colspan: this.columns.length }, this.empty)));
    }
  }
}

/** A numeric cell: the count, dimmed when zero. */
export function numberCell<T>(get: (row: T) => number, format: (n: number) => string): Column<T>["render"] {
  return (row, cell) => {
    const value = get(row);
    setText(cell, format(value));
    cell.classList.toggle("zero", value === 0);
  };
}

// Talking to the dtq API: relative URLs only (the dashboard lives at <api root>/ui/, behind any
// path prefix), the bearer token from sessionStorage, and the API's one error shape.

export interface Queue {
  name: string;
  ready: number;
  ready_by_priority: Record<string, number>;
  scheduled: number;
  active: number;
  retrying: number;
  dead: number;
  succeeded: number;
  cancelled: number;
  oldest_ready_age: number;
  paused: boolean;
}

export interface TaskError {
  type: string;
  message: string;
  traceback: string | null;
}

export interface Task {
  id: string;
  task: string;
  queue: string;
  state: string;
  priority: number;
  payload: unknown;
  max_retries: number;
  timeout: number;
  key: string | null;
  attempts: number;
  result: unknown;
  error: TaskError | null;
  worker: string | null;
  cancel_requested: boolean;
  enqueued_at: string | null;
  scheduled_for: string | null;
  started_at: string | null;
  finished_at: string | null;
}

export interface Worker {
  id: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  in_flight: number;
  processed: number;
  failed: number;
  state: string;
  started_at: string | null;
  heartbeat_age: number;
}

export interface Minute {
  start: string;
  processed: number;
  enqueued: number;
  succeeded: number;
  failed: number;
  retried: number;
  dead: number;
  cancelled: number;
}

export interface TaskPage {
  tasks: Task[];
  total: number;
  next_cursor: number | null;
}

export interface DeadPage {
  tasks: Task[];
  next_cursor: string | null;
}

export type Role = "producer" | "viewer" | "admin";

export interface Identity {
  role: Role;
  auth: boolean;
}

export const STATES = ["queued", "scheduled", "retrying", "active", "succeeded", "cancelled", "dead"] as const;
export type State = (typeof STATES)[number];

const TOKEN_KEY = "dtq.token";

/** The API root: the folder above the one this page was served from. */
const root = new URL("../", document.baseURI);

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string): void => sessionStorage.setItem(TOKEN_KEY, value),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | null | undefined>;

/** Call the API; throws ApiError (status 0 when the API is unreachable). A 401 also fires
 * "dtq:unauthorized" on window so the shell can ask for a token again. */
export async function call<T>(method: string, path: string, query: Query = {}): Promise<T> {
  const url = new URL(path, root);
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, String(value));
  }
  const headers: Record<string, string> = { Accept: "application/json" };
  const bearer = token.get();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let response: Response;
  try {
    response = await fetch(url, { method, headers, cache: "no-store" });
  } catch {
    throw new ApiError(0, "unreachable", "The API is not reachable.");
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
    if (response.status === 401) window.dispatchEvent(new Event("dtq:unauthorized"));
    throw new ApiError(response.status, error?.code ?? "http_error", error?.message ?? response.statusText);
  }
  return body as T;
}

const q = encodeURIComponent;

export const api = {
  whoami: () => call<Identity>("GET", "ui/whoami"),
  queues: () => call<{ queues: Queue[] }>("GET", "queues").then((r) => r.queues),
  queue: (name: string) => call<Queue>("GET", `queues/${q(name)}`),
  pause: (name: string) => call<Queue>("POST", `queues/${q(name)}/pause`),
  resume: (name: string) => call<Queue>("POST", `queues/${q(name)}/resume`),
  tasks: (name: string, query: Query) => call<TaskPage>("GET", `queues/${q(name)}/tasks`, query),
  task: (id: string, queue?: string) => call<Task>("GET", `tasks/${q(id)}`, { queue }),
  cancel: (id: string, queue?: string) => call<{ state: string }>("DELETE", `tasks/${q(id)}`, { queue }),
  dead: (query: Query) => call<DeadPage>("GET", "dead", query),
  redrive: (id: string, queue?: string) => call<{ state: string }>("POST", `dead/${q(id)}/retry`, { queue }),
  redriveAll: (query: Query) => call<{ count: number }>("POST", "dead/retry", query),
  purge: (query: Query) => call<{ count: number }>("DELETE", "dead", query),
  workers: () => call<{ workers: Worker[] }>("GET", "workers").then((r) => r.workers),
  stats: (minutes = 60) => call<{ minutes: Minute[] }>("GET", "stats", { minutes }).then((r) => r.minutes),
};

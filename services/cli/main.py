"""The `dtq` command: run the processes, enqueue, and inspect queues from a terminal."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.markup import escape
from rich.progress import Progress

from dtq.client import Client
from dtq.errors import DtqError, InvalidTask, RedisUnavailable, TaskFinished, TaskNotFound
from dtq.settings import env_names
from dtq.task import TaskRequest, prepare, public_shape
from dtq.text import visible
from services import scheduler as scheduler_service
from services import worker as worker_service
from services.cli import render
from services.cli.tasks_file import read_requests
from services.runtime import EXIT_CONFIG, EXIT_FAILED, fail, load_settings

T = TypeVar("T")

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="dtq: a task queue on Redis that loses nothing.")
dead_cli = typer.Typer(no_args_is_help=True, help="Inspect, redrive and purge dead-lettered tasks.")
cli.add_typer(dead_cli, name="dead")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
QueueOption = Annotated[str, typer.Option("--queue", "-q", help="Queue name.")]


def main() -> None:
    """Entry point of the `dtq` console script."""
    # Like uvicorn and celery: `--app myapp.tasks:app` names a module in the working directory.
    here = str(Path.cwd())
    if here not in sys.path:
        sys.path.insert(0, here)
    cli()


def with_client(action: Callable[[Client], Awaitable[T]]) -> T:
    """Run `action` with a connected client; turn dtq errors into messages and exit codes."""

    async def go() -> T:
        async with Client(load_settings()) as client:
            return await action(client)

    try:
        return asyncio.run(go())
    except TaskNotFound as exc:
        fail(str(exc), EXIT_FAILED)
    except (RedisUnavailable, TaskFinished) as exc:
        fail(str(exc), EXIT_FAILED)
    except DtqError as exc:
        fail(str(exc), EXIT_CONFIG)


# --- processes -------------------------------------------------------------------------------


@cli.command()
def worker(
    app: Annotated[str | None, typer.Option(help="Your handlers as module:attribute (else DTQ_APP).")] = None,
    queues: Annotated[str | None, typer.Option(help="Queues, comma separated (else DTQ_WORKER_QUEUES).")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Tasks at once (else DTQ_WORKER_CONCURRENCY).")] = None,
    burst: Annotated[bool, typer.Option(help="Exit once the queues are empty.")] = False,
    check: Annotated[bool, typer.Option(help="Liveness probe: exit 0 if this host's worker is alive, else 1.")] = False,
) -> None:
    """Run a worker: claim tasks and run their handlers until SIGTERM, then drain."""
    overrides: dict[str, Any] = {}
    if app:
        overrides["app"] = app
    settings = load_settings(**overrides)
    if check:
        raise typer.Exit(worker_service.check(settings))
    queue_list = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    worker_service.run(settings, queues=queue_list, concurrency=concurrency, burst=burst)


@cli.command()
def api(
    host: Annotated[str | None, typer.Option(help="Address to bind (else DTQ_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (else DTQ_API_PORT, 3000).")] = None,
) -> None:
    """Serve the REST API (FastAPI on uvicorn)."""
    from services import api as api_service  # noqa: PLC0415 - FastAPI loads only for this command

    api_service.run(load_settings(), host, port)


@cli.command()
def dev(
    host: Annotated[str | None, typer.Option(help="Address to bind (else DTQ_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="API port (else DTQ_API_PORT, 3000).")] = None,
    redis_port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the embedded Redis.")] = 6390,
) -> None:
    """API + worker + scheduler in one process; an in-memory Redis unless DTQ_REDIS_URL is set."""
    from services import dev as dev_service  # noqa: PLC0415 - loads FastAPI and fakeredis only here

    dev_service.run(load_settings(), host, port, redis_port)


@cli.command()
def operator() -> None:
    """Run the autoscaling operator (kopf): size worker Deployments by queue length."""
    from dtq_operator.main import run  # noqa: PLC0415 - kopf and kubernetes load only for this command

    run(load_settings())


@cli.command()
def scheduler(
    check: Annotated[
        bool, typer.Option(help="Liveness probe: exit 0 if this host's scheduler is alive, else 1.")
    ] = False,
) -> None:
    """Run a scheduler: fire due tasks and recover tasks of dead workers. Run two for safety."""
    settings = load_settings()
    if check:
        raise typer.Exit(scheduler_service.check(settings))
    scheduler_service.run(settings)


# --- producing -------------------------------------------------------------------------------


@cli.command()
def enqueue(
    name: Annotated[str | None, typer.Argument(help="Task name (the handler's name).")] = None,
    *,
    payload: Annotated[str | None, typer.Option(help="Payload as JSON.")] = None,
    priority: Annotated[int | None, typer.Option(min=0, max=9, help="0-9, 9 most urgent.")] = None,
    queue: QueueOption = "default",
    at: Annotated[str | None, typer.Option(help="Run at this RFC 3339 time.")] = None,
    delay: Annotated[float | None, typer.Option(min=0, help="Run after this many seconds.")] = None,
    key: Annotated[str | None, typer.Option(help="Idempotency key.")] = None,
    max_retries: Annotated[int | None, typer.Option(min=0)] = None,
    timeout: Annotated[float | None, typer.Option(min=0.001)] = None,
    file: Annotated[Path | None, typer.Option(help="Enqueue every line of a JSON-lines file.")] = None,
) -> None:
    """Enqueue one task, or every task of a JSON-lines file (`--file`), all-or-nothing."""
    if file is not None:
        if name is not None:
            fail("give a task name or --file, not both")
        enqueue_file(file)
        return
    if name is None:
        fail("missing task name (or --file)")
    request = TaskRequest(
        task=name, payload=parse_json_option("--payload", payload), queue=queue, priority=priority,
        max_retries=max_retries, timeout=timeout, key=key, delay=delay, at=parse_time_option("--at", at),
    )  # fmt: skip
    outcome = with_client(lambda c: c.enqueue_many([request]))[0]
    render.as_json({"id": outcome.id, "state": outcome.state.value, "created": outcome.outcome.name == "CREATED"})


def parse_json_option(option: str, text: str | None) -> Any:
    """The JSON value of an option, or exit 2 naming it."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        fail(f"{option}: not valid JSON: {exc}")


def parse_time_option(option: str, text: str | None) -> datetime | None:
    """An RFC 3339 time with a zone, or exit 2 naming the option."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option}: not an RFC 3339 time: {text!r}")
    if moment.tzinfo is None:
        fail(f"{option}: the time needs a zone, e.g. {text}Z")
    return moment


def enqueue_file(path: Path) -> None:
    """Validate the whole file first, then store it in chunks behind a progress bar."""
    requests = read_requests(path)
    settings = load_settings()
    try:
        prepare(requests, settings.tasks)
    except InvalidTask as exc:
        lines = "; ".join(f"line {(p.index or 0) + 1}: {p.field}: {p.message}" for p in exc.problems[:20])
        fail(f"{path}: nothing enqueued: {lines}")

    async def store(client: Client) -> int:
        created = 0
        with Progress(console=render.console, transient=not sys.stderr.isatty()) as progress:
            bar = progress.add_task(f"enqueueing {escape(visible(path.name))}", total=len(requests))
            for start in range(0, len(requests), 5000):
                chunk = requests[start : start + 5000]
                created += sum(o.outcome.name == "CREATED" for o in await client.enqueue_many(chunk))
                progress.advance(bar, len(chunk))
        return created

    created = with_client(store)
    render.console.print(
        render.plain(f"enqueued {created} task(s) from {path} ({len(requests) - created} already present)")
    )


# --- looking -------------------------------------------------------------------------------


@cli.command()
def status(
    task_id: str, queue: Annotated[str | None, typer.Option("--queue", "-q")] = None, json: JsonFlag = False
) -> None:
    """Show one task's full record."""
    task = with_client(lambda c: c.get(task_id, queue))
    render.as_json(public_shape(task)) if json else render.show_task(task)


@cli.command()
def cancel(task_id: str, queue: Annotated[str | None, typer.Option("--queue", "-q")] = None) -> None:
    """Cancel a waiting task, or ask the worker running it to stop."""
    outcome = with_client(lambda c: c.cancel(task_id, queue))
    render.console.print("cancelled" if outcome.state == "cancelled" else "cancel requested (the task is running)")


@cli.command()
def queues(json: JsonFlag = False) -> None:
    """Every queue with its counts per state and priority."""
    stats = with_client(lambda c: c.all_queue_stats())
    render.as_json([render.queue_row(n, c) for n, c in stats.items()]) if json else render.show_queues(stats)


@cli.command()
def workers(json: JsonFlag = False) -> None:
    """Live workers and their heartbeats."""
    found = with_client(lambda c: c.workers())
    render.as_json([asdict(w) for w in found]) if json else render.show_workers(found)


@cli.command()
def pause(queue: str) -> None:
    """Stop workers from claiming from QUEUE."""
    with_client(lambda c: c.pause(queue))
    render.console.print(f"queue {queue} paused")


@cli.command()
def resume(queue: str) -> None:
    """Let workers claim from QUEUE again."""
    with_client(lambda c: c.resume(queue))
    render.console.print(f"queue {queue} resumed")


@cli.command()
def settings() -> None:
    """Every DTQ_* setting and what it does."""
    for name, description in env_names().items():
        render.console.print(f"[bold]{name}[/]  {description}")


# --- dead letters -----------------------------------------------------------------------------


@dead_cli.command("list")
def dead_list(
    queue: QueueOption = "default",
    task: Annotated[str | None, typer.Option(help="Only tasks with this name.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page.")] = None,
    json: JsonFlag = False,
) -> None:
    """Dead tasks of a queue, newest first."""
    page = with_client(lambda c: c.dead(queue, task=task, limit=limit, cursor=cursor))
    if json:
        render.as_json({"tasks": [public_shape(t) for t in page.tasks], "next_cursor": page.next_cursor})
    else:
        render.show_dead(page)


@dead_cli.command("redrive")
def dead_redrive(
    ids: Annotated[list[str] | None, typer.Argument(help="Task ids; none means every dead task (see --task).")] = None,
    queue: QueueOption = "default",
    task: Annotated[str | None, typer.Option(help="Only tasks with this name.")] = None,
) -> None:
    """Requeue dead tasks with a fresh set of retries."""
    count = with_client(lambda c: c.redrive(queue, ids=ids or None, task=task))
    render.console.print(f"redrove {count} task(s)")


# The name this command had first: kept working for scripts that use it, out of the help.
dead_cli.command("retry", hidden=True)(dead_redrive)


@dead_cli.command("purge")
def dead_purge(
    ids: Annotated[list[str] | None, typer.Argument(help="Task ids; none means every dead task (see --task).")] = None,
    queue: QueueOption = "default",
    task: Annotated[str | None, typer.Option(help="Only tasks with this name.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete dead tasks for good."""
    if not ids and not yes:
        what = f"every dead {task!r} task" if task else "every dead task"
        typer.confirm(f"Delete {what} of queue {queue}?", abort=True)
    count = with_client(lambda c: c.purge_dead(queue, ids=ids or None, task=task))
    render.console.print(f"purged {count} task(s)")

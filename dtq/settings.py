"""One settings object for every dtq process, read from `DTQ_*` environment variables.

Each section is a plain model; the environment name of a field is `DTQ_<SECTION>_<FIELD>`
(`DTQ_REDIS_URL`, `DTQ_WORKER_CONCURRENCY`), and the Helm chart renders exactly these names.
Nothing here reads the environment at import time: entrypoints call `Settings.from_env()` once
and pass the sections they need to the classes they build.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from dtq import topology
from dtq.errors import ConfigError
from dtq.priority import DEFAULT_PRIORITY, HIGHEST_PRIORITY, LOWEST_PRIORITY
from dtq.shards import check_shard_map, parse_shard_map

ENV_PREFIX = "DTQ_"

CommaList = Annotated[list[str], NoDecode]


def _split_commas(value: object) -> object:
    """Accept `a,b` from the environment as well as a real list from Python."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Section(BaseModel):
    """Base of every settings section: typos are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RedisSettings(Section):
    """How to reach Redis and where dtq's keys live in it."""

    url: SecretStr = Field(
        SecretStr("redis://localhost:6379/0"),
        description="Redis URL: redis://host:port/db, redis+cluster://host:port,host:port, "
        "redis+sentinel://host:port,host:port/service (rediss... for TLS; user:password@ for ACL users).",
    )
    username: str | None = Field(None, description="ACL user name, used when the URL carries none.")
    password: SecretStr | None = Field(None, description="Password, used when the URL carries none.")
    sentinel_password: SecretStr | None = Field(
        None, description="Password of the sentinels themselves (redis+sentinel://), when they require one."
    )
    key_prefix: str = Field("dtq", pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="Prefix of every key.")
    socket_timeout: float = Field(5.0, gt=0, description="Seconds to wait for a reply.")
    connect_timeout: float = Field(5.0, gt=0, description="Seconds to wait for a connection.")
    max_connections: int = Field(64, ge=4, description="Connection pool size per process.")
    allow_eviction: bool = Field(
        False,
        description="Start even if maxmemory-policy is not noeviction (an eviction policy deletes tasks).",
    )
    shards: Annotated[dict[str, int], NoDecode] = Field(
        {}, description="Hot queues spread over N physical queues, as queue=N,queue=N (see docs/scaling.md)."
    )
    wait_replicas: int = Field(
        0, ge=0, le=16, description="Replicas that must acknowledge an enqueue before it succeeds (WAIT); 0: none."
    )
    wait_timeout: float = Field(1.0, gt=0, description="Seconds an enqueue waits for those replicas.")

    @field_validator("url")
    @classmethod
    def _known_topology(cls, value: SecretStr) -> SecretStr:
        topology.parse(value.get_secret_value())
        return value

    _split_shards = field_validator("shards", mode="before")(parse_shard_map)

    @field_validator("shards")
    @classmethod
    def _valid_shards(cls, value: dict[str, int]) -> dict[str, int]:
        check_shard_map(value)
        return value

    @model_validator(mode="after")
    def _wait_within_socket_timeout(self) -> RedisSettings:
        if self.wait_replicas and self.wait_timeout >= self.socket_timeout:
            raise ValueError("DTQ_REDIS_WAIT_TIMEOUT must be shorter than DTQ_REDIS_SOCKET_TIMEOUT")
        return self


UnknownTasks = Literal["dead", "log"]
PriorityMode = Literal["strict", "weighted"]


class WorkerSettings(Section):
    """How a worker process claims and runs tasks."""

    queues: CommaList = Field(["default"], min_length=1, description="Queues to consume, comma separated.")
    concurrency: int = Field(16, ge=1, le=10_000, description="Tasks one worker process runs at once.")
    lease: float = Field(30.0, ge=1, description="Seconds a claim is valid before it must be renewed.")
    shutdown_grace: float = Field(
        25.0, ge=0, description="Seconds in-flight tasks may finish after SIGTERM before they are handed back."
    )
    shutdown_hard_deadline: float = Field(
        5.0,
        gt=0,
        description="Seconds after the grace period that cancelled handlers get before the worker exits without them.",
    )
    heartbeat_interval: float = Field(5.0, gt=0, description="Seconds between registry heartbeats.")
    health_file: Path = Field(
        Path("/tmp/dtq-worker.health"),  # noqa: S108 - a liveness stamp, not a secret; /tmp is the pod's emptyDir
        description="File the worker stamps every second; `dtq worker --check` reads it.",
    )
    idle_poll: float = Field(
        1.0, gt=0, description="Seconds between claim attempts when no wake-up notification arrives."
    )
    unknown_tasks: UnknownTasks = Field("dead", description="What to do with a task that has no handler.")
    priority_mode: PriorityMode = Field("strict", description="strict: never start lower while higher waits.")
    priority_weights: CommaList = Field(
        ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"],
        description="Weighted mode: ten relative weights, for priorities 0 to 9.",
    )

    _split = field_validator("queues", "priority_weights", mode="before")(_split_commas)

    @field_validator("priority_weights")
    @classmethod
    def _ten_weights(cls, value: list[str]) -> list[str]:
        if len(value) != 10 or not all(v.isdigit() and int(v) > 0 for v in value):
            raise ValueError("needs ten positive integers, one per priority 0..9")
        return value

    def weights(self) -> list[int]:
        """The priority weights as integers, index = priority."""
        return [int(v) for v in self.priority_weights]


class TaskDefaults(Section):
    """Defaults for tasks that do not say otherwise, and the retry backoff policy."""

    priority: int = Field(
        DEFAULT_PRIORITY, ge=LOWEST_PRIORITY, le=HIGHEST_PRIORITY, description="Priority 0..9, 9 most urgent."
    )
    max_retries: int = Field(3, ge=0, le=1000, description="Retries after the first attempt.")
    timeout: float = Field(300.0, gt=0, description="Seconds a handler may run.")
    backoff_base: float = Field(1.0, ge=0, description="Seconds before the first retry.")
    backoff_factor: float = Field(2.0, ge=1, description="Multiplier per further retry.")
    backoff_max: float = Field(3600.0, ge=0, description="Cap on a retry delay, seconds.")
    backoff_jitter: float = Field(0.2, ge=0, le=1, description="Delay varies by +/- this fraction.")
    max_payload_bytes: int = Field(1_048_576, ge=1, description="Largest encoded task record, bytes.")


class RetentionSettings(Section):
    """How long finished tasks and idempotency keys are kept."""

    finished: float = Field(86_400.0, ge=0, description="Seconds succeeded and cancelled tasks are kept.")
    dead: float = Field(604_800.0, ge=0, description="Seconds dead tasks are kept.")
    dead_max: int = Field(100_000, ge=1, description="Most dead tasks kept per queue; oldest go first.")
    dead_unrunnable_max: int = Field(
        1000, ge=1, description="Most dead tasks that never ran (no handler) kept per queue, apart from dead_max."
    )
    idempotency: float = Field(86_400.0, gt=0, description="Seconds an idempotency key is remembered.")
    stats: float = Field(10_800.0, ge=3600, description="Seconds per-minute counters are kept.")


class QueueSettings(Section):
    """How many queues may exist, and when an unused one leaves the index."""

    max: int = Field(
        1000, ge=1, le=1_000_000, description="Most queues that may exist; enqueueing to one more is refused (429)."
    )
    idle_ttl: float = Field(
        3600.0, ge=1, description="Seconds a queue must hold no task at all before it leaves the queue index."
    )


class SchedulerSettings(Section):
    """How the scheduler promotes due tasks and recovers expired leases."""

    poll_interval: float = Field(1.0, gt=0, description="Longest sleep between sweeps, seconds.")
    batch: int = Field(1000, ge=1, le=10_000, description="Most tasks moved by one script call.")
    janitor_interval: float = Field(5.0, gt=0, description="Seconds between retention sweeps.")
    queue_refresh: float = Field(5.0, gt=0, description="Seconds between re-reads of the queue index.")
    health_file: Path = Field(
        Path("/tmp/dtq-scheduler.health"),  # noqa: S108 - a liveness stamp, not a secret; /tmp is the pod's emptyDir
        description="File the scheduler stamps every second; `dtq scheduler --check` reads it.",
    )


class ApiSettings(Section):
    """The REST API process."""

    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(3000, ge=1, le=65535, description="Port to bind.")
    tokens: Annotated[list[SecretStr], NoDecode] = Field(
        [], description="Bearer tokens as token:role (role producer, viewer or admin), comma separated."
    )
    tokens_file: Path | None = Field(None, description="File with one token:role per line.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest single-task request body.")
    max_bulk_body_bytes: int = Field(
        4_194_304, ge=1024, description="Largest bulk request body (the default fits 10,000 tasks of ~400 bytes)."
    )
    max_bulk_items: int = Field(10_000, ge=1, description="Most tasks in one bulk request.")
    max_json_depth: int = Field(32, ge=2, le=256, description="Deepest JSON nesting accepted.")
    max_header_bytes: int = Field(
        65_536, ge=1024, le=1_048_576, description="Largest request line plus headers; larger is answered 431."
    )
    header_timeout: float = Field(
        10.0, gt=0, le=300, description="Seconds a client has to send a request's line and headers; then 408."
    )
    max_connections: int = Field(
        1000, ge=1, le=100_000, description="Open connections and requests one API process serves; beyond, 503."
    )
    metrics_queues: int = Field(
        100, ge=1, le=10_000, description='Queues (and task names per queue) /metrics shows apart; rest: "_other".'
    )
    rate_limit: float = Field(
        0.0,
        ge=0,
        description="Requests per second per token (per client address without tokens), across replicas; 0: off.",
    )
    rate_burst: int = Field(100, ge=1, description="Requests a token may send at once above the rate.")
    auth_failure_rate: float = Field(
        1.0, gt=0, description="Failed authentications per second per client address, across replicas; then 429."
    )
    auth_failure_burst: int = Field(20, ge=1, description="Failed authentications a client address may make at once.")

    @field_validator("tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: object) -> object:
        return _split_commas(value)


class OperatorSettings(Section):
    """The autoscaling operator."""

    namespace: str | None = Field(None, description="Namespace to watch; all namespaces when unset.")
    standalone: bool = Field(True, description="Run kopf without peering (one replica).")
    liveness_port: int | None = Field(
        None, ge=1, le=65535, description="Serve kopf's liveness check on http://0.0.0.0:<port>/healthz."
    )


class LogSettings(Section):
    """Logging of every process."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Lowest level logged.")
    format: Literal["text", "json"] = Field("text", description="text for people, json for collectors.")


class Settings(BaseSettings):
    """All of dtq's configuration; build it with `Settings.from_env()` or with keyword sections."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        frozen=True,
    )

    app: str | None = Field(None, description="Your handlers, as module:attribute of a dtq.App.")
    builtin_tasks: bool = Field(
        False, description="Also run the built-in tasks echo, sleep and fail (dtq dev turns this on)."
    )
    redis: RedisSettings = Field(default_factory=RedisSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    tasks: TaskDefaults = Field(default_factory=TaskDefaults)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    queues: QueueSettings = Field(default_factory=QueueSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    operator: OperatorSettings = Field(default_factory=OperatorSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Read and validate `DTQ_*` variables; any error names the variable at fault."""
        unknown = sorted(name for name in os.environ if name.startswith(ENV_PREFIX) and name not in env_names())
        if unknown:
            raise ConfigError(f"unknown setting {', '.join(unknown)} (`dtq settings` lists them all)")
        try:
            return cls(**overrides)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc)) from None

    def with_changes(self, **sections: dict[str, Any]) -> Settings:
        """A copy with some fields of some sections changed, validated like the originals."""
        changed = {}
        for name, values in sections.items():
            section = getattr(self, name)
            try:
                changed[name] = type(section).model_validate({**section.model_dump(), **values})
            except ValidationError as exc:
                raise ConfigError(f"{name}: {describe_validation_error(exc)}") from None
        return self.model_copy(update=changed)


def env_name(*path: str | int) -> str:
    """The environment variable of a settings path, e.g. ("worker", "concurrency")."""
    return ENV_PREFIX + "_".join(str(p).upper() for p in path if not isinstance(p, int))


def env_names() -> dict[str, str]:
    """Every accepted environment variable with its description."""
    names: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            for sub, subfield in annotation.model_fields.items():
                names[env_name(name, sub)] = subfield.description or ""
        else:
            names[env_name(name)] = field.description or ""
    return names


def describe_validation_error(exc: ValidationError) -> str:
    """Turn pydantic's error into lines that name the environment variable."""
    lines = []
    for error in exc.errors():
        where = env_name(*error["loc"][:2]) if error["loc"] else "settings"
        lines.append(f"{where}: {error['msg']}")
    return "invalid settings: " + "; ".join(lines)

"""Settings: environment names, validation messages that name the variable, typo detection."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from dtq.errors import ConfigError
from dtq.settings import Settings, env_names


def test_reads_sections_from_single_underscore_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTQ_REDIS_URL", "redis://cache:6380/2")
    monkeypatch.setenv("DTQ_WORKER_QUEUES", "emails, reports")
    monkeypatch.setenv("DTQ_WORKER_CONCURRENCY", "40")
    monkeypatch.setenv("DTQ_APP", "myapp.tasks:app")
    settings = Settings.from_env()
    assert settings.redis.url.get_secret_value() == "redis://cache:6380/2"
    assert settings.worker.queues == ["emails", "reports"]
    assert settings.worker.concurrency == 40
    assert settings.app == "myapp.tasks:app"


def test_a_misspelt_variable_is_an_error_that_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTQ_WORKER_CONCURENCY", "4")
    with pytest.raises(ConfigError, match="DTQ_WORKER_CONCURENCY"):
        Settings.from_env()


@pytest.mark.parametrize(
    ("name", "value"),
    [("DTQ_WORKER_CONCURRENCY", "lots"), ("DTQ_WORKER_CONCURRENCY", "0"), ("DTQ_REDIS_KEY_PREFIX", "a b"),
     ("DTQ_WORKER_PRIORITY_WEIGHTS", "1,2,3"), ("DTQ_WORKER_UNKNOWN_TASKS", "ignore"), ("DTQ_API_PORT", "70000")],
)  # fmt: skip
def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        Settings.from_env()


# Every name `dtq settings` documents, set to a value other than its default, and what the
# settings object must then hold. A setting added without a line here fails the test below.
EVERY_NAME: dict[str, tuple[str, object]] = {
    "DTQ_APP": ("myapp.tasks:app", "myapp.tasks:app"),
    "DTQ_BUILTIN_TASKS": ("true", True),
    "DTQ_QUEUES_MAX": ("50", 50),
    "DTQ_RETENTION_DEAD_UNRUNNABLE_MAX": ("10", 10),
    "DTQ_QUEUES_IDLE_TTL": ("120", 120.0),
    "DTQ_REDIS_URL": ("redis://cache:6380/2", "redis://cache:6380/2"),
    "DTQ_REDIS_USERNAME": ("dtq-user", "dtq-user"),
    "DTQ_REDIS_PASSWORD": ("s3cret", "s3cret"),
    "DTQ_REDIS_SENTINEL_PASSWORD": ("s3ntinel", "s3ntinel"),
    "DTQ_REDIS_KEY_PREFIX": ("jobs", "jobs"),
    "DTQ_REDIS_SOCKET_TIMEOUT": ("2.5", 2.5),
    "DTQ_REDIS_CONNECT_TIMEOUT": ("3", 3.0),
    "DTQ_REDIS_MAX_CONNECTIONS": ("8", 8),
    "DTQ_REDIS_ALLOW_EVICTION": ("true", True),
    "DTQ_REDIS_SHARDS": ("emails=4", {"emails": 4}),
    "DTQ_REDIS_WAIT_REPLICAS": ("1", 1),
    "DTQ_REDIS_WAIT_TIMEOUT": ("0.5", 0.5),
    "DTQ_WORKER_QUEUES": ("emails,reports", ["emails", "reports"]),
    "DTQ_WORKER_CONCURRENCY": ("40", 40),
    "DTQ_WORKER_LEASE": ("12", 12.0),
    "DTQ_WORKER_SHUTDOWN_GRACE": ("7", 7.0),
    "DTQ_WORKER_SHUTDOWN_HARD_DEADLINE": ("2.5", 2.5),
    "DTQ_WORKER_HEARTBEAT_INTERVAL": ("2", 2.0),
    "DTQ_WORKER_HEALTH_FILE": ("/run/w.health", Path("/run/w.health")),
    "DTQ_WORKER_IDLE_POLL": ("0.5", 0.5),
    "DTQ_WORKER_UNKNOWN_TASKS": ("log", "log"),
    "DTQ_WORKER_PRIORITY_MODE": ("weighted", "weighted"),
    "DTQ_WORKER_PRIORITY_WEIGHTS": ("1,1,1,1,1,1,1,1,1,9", ["1", "1", "1", "1", "1", "1", "1", "1", "1", "9"]),
    "DTQ_TASKS_PRIORITY": ("7", 7),
    "DTQ_TASKS_MAX_RETRIES": ("5", 5),
    "DTQ_TASKS_TIMEOUT": ("60", 60.0),
    "DTQ_TASKS_BACKOFF_BASE": ("0.5", 0.5),
    "DTQ_TASKS_BACKOFF_FACTOR": ("3", 3.0),
    "DTQ_TASKS_BACKOFF_MAX": ("600", 600.0),
    "DTQ_TASKS_BACKOFF_JITTER": ("0.1", 0.1),
    "DTQ_TASKS_MAX_PAYLOAD_BYTES": ("2048", 2048),
    "DTQ_RETENTION_FINISHED": ("3600", 3600.0),
    "DTQ_RETENTION_DEAD": ("7200", 7200.0),
    "DTQ_RETENTION_DEAD_MAX": ("500", 500),
    "DTQ_RETENTION_IDEMPOTENCY": ("600", 600.0),
    "DTQ_RETENTION_STATS": ("7200", 7200.0),
    "DTQ_SCHEDULER_POLL_INTERVAL": ("0.5", 0.5),
    "DTQ_SCHEDULER_BATCH": ("200", 200),
    "DTQ_SCHEDULER_JANITOR_INTERVAL": ("10", 10.0),
    "DTQ_SCHEDULER_QUEUE_REFRESH": ("2", 2.0),
    "DTQ_SCHEDULER_HEALTH_FILE": ("/run/s.health", Path("/run/s.health")),
    "DTQ_API_HOST": ("0.0.0.0", "0.0.0.0"),
    "DTQ_API_PORT": ("8080", 8080),
    "DTQ_API_TOKENS": ("producer-token-0123456789abc:producer", ["producer-token-0123456789abc:producer"]),
    "DTQ_API_TOKENS_FILE": ("/run/tokens", Path("/run/tokens")),
    "DTQ_API_MAX_BODY_BYTES": ("4096", 4096),
    "DTQ_API_MAX_BULK_BODY_BYTES": ("65536", 65536),
    "DTQ_API_MAX_BULK_ITEMS": ("50", 50),
    "DTQ_API_MAX_HEADER_BYTES": ("8192", 8192),
    "DTQ_API_HEADER_TIMEOUT": ("2.5", 2.5),
    "DTQ_API_MAX_CONNECTIONS": ("64", 64),
    "DTQ_API_METRICS_QUEUES": ("7", 7),
    "DTQ_API_AUTH_FAILURE_RATE": ("0.5", 0.5),
    "DTQ_API_AUTH_FAILURE_BURST": ("5", 5),
    "DTQ_API_MAX_JSON_DEPTH": ("8", 8),
    "DTQ_API_RATE_LIMIT": ("20", 20.0),
    "DTQ_API_RATE_BURST": ("40", 40),
    "DTQ_OPERATOR_NAMESPACE": ("jobs", "jobs"),
    "DTQ_OPERATOR_STANDALONE": ("false", False),
    "DTQ_OPERATOR_LIVENESS_PORT": ("8081", 8081),
    "DTQ_LOG_LEVEL": ("DEBUG", "DEBUG"),
    "DTQ_LOG_FORMAT": ("json", "json"),
}


def setting(settings: Settings, name: str) -> object:
    """The value the settings object holds for environment variable `name` (secrets revealed)."""
    section, _, field = name.removeprefix("DTQ_").lower().partition("_")
    holder: object = settings
    if field and section in Settings.model_fields and section != "app":
        holder = getattr(settings, section)
    else:
        field = name.removeprefix("DTQ_").lower()
    value = getattr(holder, field)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list):
        return [v.get_secret_value() if isinstance(v, SecretStr) else v for v in value]
    return value


def test_every_documented_name_is_read_into_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(EVERY_NAME) == set(env_names()), "a documented setting without a line in EVERY_NAME, or the reverse"
    assert all(env_names().values()), "every setting has a description"
    defaults = Settings()
    for name, (text, _) in EVERY_NAME.items():
        monkeypatch.setenv(name, text)
    settings = Settings.from_env()
    for name, (_, expected) in EVERY_NAME.items():
        assert setting(settings, name) == expected, name
        assert setting(defaults, name) != expected, f"{name}: pick a value other than the default"


def test_secrets_do_not_print() -> None:
    settings = Settings(redis={"url": "redis://:hunter2@h:6379/0", "password": "hunter2"})  # type: ignore[arg-type]
    assert "hunter2" not in repr(settings)

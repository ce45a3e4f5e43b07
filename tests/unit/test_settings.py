"""Settings: environment names, validation messages that name the variable, typo detection."""

from __future__ import annotations

import pytest

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


def test_every_documented_name_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    names = env_names()
    assert "DTQ_REDIS_URL" in names and "DTQ_WORKER_SHUTDOWN_GRACE" in names
    assert all(description for description in names.values())


def test_secrets_do_not_print() -> None:
    settings = Settings(redis={"url": "redis://:hunter2@h:6379/0", "password": "hunter2"})  # type: ignore[arg-type]
    assert "hunter2" not in repr(settings)

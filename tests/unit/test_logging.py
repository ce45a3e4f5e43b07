"""Text-format logs keep one record per line whatever a payload or error message contains."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import orjson
import pytest

from dtq.settings import LogSettings
from services.runtime import configure_logging

FORGED = "boom\n2026-12-07 12:00:00,000 CRITICAL dtq: forged\r\x1b[2J\x07 \x85 \u2028 \u2029 end"
RAW = ("\r", "\x1b", "\x07", "\x85", "\u2028", "\u2029")


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def logged(capsys: pytest.CaptureFixture[str], log_format: str, *, with_traceback: bool = False) -> str:
    configure_logging(LogSettings(format=log_format, level="INFO"))  # type: ignore[arg-type]
    log = logging.getLogger("dtq.worker")
    if with_traceback:
        try:
            raise ValueError(FORGED)
        except ValueError:
            log.exception("task failed: %s", FORGED)
    else:
        log.error("task failed: %s", FORGED)
    return capsys.readouterr().err


def test_a_text_record_with_forged_lines_is_one_escaped_line(capsys: pytest.CaptureFixture[str]) -> None:
    out = logged(capsys, "text")
    assert out.count("\n") == 1 and out.endswith("\n"), out
    assert not [raw for raw in RAW if raw in out], out
    assert "task failed: boom\\n2026-12-07 12:00:00,000 CRITICAL dtq: forged\\r\\x1b[2J\\x07 \\x85 \\u2028" in out


def test_a_traceback_keeps_its_lines_with_control_characters_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    lines = logged(capsys, "text", with_traceback=True).split("\n")
    assert "ERROR dtq.worker: task failed: boom\\n2026" in lines[0]
    assert "CRITICAL" not in lines[0].split("forged")[-1]
    assert lines[1] == "Traceback (most recent call last):"
    assert not [raw for raw in RAW for line in lines if raw in line], lines
    assert any(line.startswith("ValueError: boom") for line in lines), lines
    assert any("\\x1b[2J\\x07 \\x85 \\u2028 \\u2029 end" in line for line in lines), lines


def test_a_json_record_is_one_line_that_decodes_to_the_exact_message(capsys: pytest.CaptureFixture[str]) -> None:
    out = logged(capsys, "json", with_traceback=True)
    assert len(out.splitlines()) == 1, out  # splitlines also breaks at NEL, U+2028 and U+2029
    entry = orjson.loads(out)
    assert entry["message"] == f"task failed: {FORGED}"
    assert f"ValueError: {FORGED}" in entry["exception"]

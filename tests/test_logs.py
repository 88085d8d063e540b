"""Logs: secrets never appear, whatever logs them; JSON lines when asked."""

from __future__ import annotations

import io
import json
import logging

from bot.logs import setup_logging

TOKEN = "123456:AAE-secret-token-value"


def test_tokens_are_redacted_even_in_library_lines_and_tracebacks() -> None:
    out = io.StringIO()
    setup_logging("debug", "text", out, environ={"TELEGRAM_BOT_TOKEN": TOKEN})
    logging.getLogger("httpx").warning(
        "HTTP Request: POST https://api.telegram.org/bot%s/getMe", TOKEN
    )
    try:
        raise RuntimeError(f"bad url https://api.telegram.org/bot{TOKEN}/sendMessage")
    except RuntimeError:
        logging.getLogger("dozor").exception("send failed")
    text = out.getvalue()
    assert TOKEN not in text
    assert text.count("[redacted]") == 2  # the library line and the exception message
    assert "RuntimeError: bad url https://api.telegram.org/bot[redacted]/sendMessage" in text


def test_json_lines() -> None:
    out = io.StringIO()
    setup_logging("info", "json", out, environ={})
    logging.getLogger("dozor.poll").info("source %s: %d new", "ria", 3)
    event = json.loads(out.getvalue().strip())
    assert event["level"] == "info" and event["logger"] == "dozor.poll"
    assert event["message"] == "source ria: 3 new"

"""Secrets never reach a log line or a recorded error: every platform and every watcher
says which environment variables hold its secrets (also those a destination's
``webhook_env``/``secret_env`` names in config.toml), and the logs hide their values."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from bot import platforms
from bot.config import Settings, load_config
from bot.logs import setup_logging
from bot.reach import redact
from watchers import WATCHERS

CONFIG = """
[[destinations]]
name = "desk"
kind = "discord"
webhook_env = "DISCORD_WEBHOOK_DESK"
[[destinations]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:9/alerts"
secret_env = "HOOK_SECRET_DESK"
"""

# what each registered platform and watcher keeps in the environment, as README says
EXPECTED: dict[str, set[str]] = {
    "platform console": set(),
    "platform telegram": {"TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET"},
    "platform slack": {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"},
    "platform discord": {"DISCORD_BOT_TOKEN", "DISCORD_WEBHOOK_DESK"},
    "platform webhook": {"HOOK_SECRET_DESK"},
    "platform matrix": {"MATRIX_ACCESS_TOKEN"},
    "platform email": {"SMTP_PASSWORD"},
    "watcher rss": set(),
    "watcher telegram": set(),
    "watcher vk": {"VK_TOKEN"},
}


def settings_for(tmp_path: Path) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path)


def environment() -> dict[str, str]:
    """A distinct value for every expected secret (long enough to be worth hiding)."""
    names = sorted(set().union(*EXPECTED.values()))
    return {name: f"s3cr3t-{name.lower()}-value" for name in names}


def test_every_registered_platform_and_watcher_is_accounted_for() -> None:
    registered = {f"platform {p.name}" for p in platforms.PLATFORMS}
    registered |= {f"watcher {w.kind}" for w in WATCHERS}
    assert registered == set(EXPECTED), "a new platform or kind: say what its secrets are"


def test_each_secret_is_redacted_from_log_lines_and_tracebacks(tmp_path: Path) -> None:
    env = environment()
    out = io.StringIO()
    setup_logging("debug", "text", out, environ=env, settings=settings_for(tmp_path))
    for owner, names in EXPECTED.items():
        for name in sorted(names):
            value = env[name]
            logging.getLogger("httpx").warning("%s: POST https://x.test/%s/send", owner, value)
            try:
                raise RuntimeError(f"{owner}: rejected {value}")
            except RuntimeError:
                logging.getLogger("dozor").exception("%s failed", owner)
    text = out.getvalue()
    leaked = sorted(name for name, value in env.items() if value in text)
    assert leaked == []
    assert text.count("[redacted]") == 2 * len(env)


def test_a_recorded_connect_error_is_redacted_with_the_config(tmp_path: Path) -> None:
    env = environment()
    settings = settings_for(tmp_path)
    for name, value in env.items():
        assert redact(f"cannot connect: {value} refused", env, settings) == (
            "cannot connect: [redacted] refused"
        ), name


def test_discord_matrix_and_smtp_secrets_are_hidden_without_a_config_too() -> None:
    env = environment()
    out = io.StringIO()
    setup_logging("info", "text", out, environ=env)
    for name in ("DISCORD_BOT_TOKEN", "MATRIX_ACCESS_TOKEN", "SMTP_PASSWORD"):
        logging.getLogger("dozor").error("%s is %s", name, env[name])
    assert "s3cr3t" not in out.getvalue()

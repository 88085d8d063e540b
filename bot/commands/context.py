"""What chat commands work with: the bot's ``Runtime`` (bot/runtime.py), under the name
commands and chat platforms have always used for it."""

from __future__ import annotations

from bot.runtime import Runtime as BotContext

__all__ = ["BotContext"]

"""Chat commands, the same on every platform: the bot's one inbound stage.

    watchers -> Item -> matching -> Match -> routing -> Alert -> outbox -> adapters
    bot/commands  <-  chat commands from any adapter

Adapters (Telegram, Slack, the console) turn their events into an ``Invocation`` or a
``Press`` and render what comes back; nothing here imports a chat library or writes
markup.  ``dispatch`` runs a command (permissions first, see ``permissions``);
``alert_buttons`` / ``press`` are the mute buttons under an alert.  Commands change
the bot through ``bot.runtime.Runtime``: chat rules and sources live in the store, and the
pipeline gets the new rule set at once.
"""

from bot.commands.buttons import alert_buttons, press
from bot.commands.registry import BY_NAME, COMMANDS, Command, dispatch
from bot.commands.types import Button, Invocation, Press, PressOutcome, Reply

__all__ = [
    "BY_NAME",
    "COMMANDS",
    "Button",
    "Command",
    "Invocation",
    "Press",
    "PressOutcome",
    "Reply",
    "alert_buttons",
    "dispatch",
    "press",
]

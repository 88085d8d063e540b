"""The console chat adapter: ``dozor chat --config FILE`` types commands at the bot.

Each input line is one command (``/watch Вагнер* погиб*``; the leading ``/`` may be
left out of a command's name, but a line without it that names no command is not one)
run through ``bot.commands.dispatch`` as platform "console", chat_id None,
user "console", who is an admin.  Replies are printed as they are, followed by a blank
line; buttons are not offered; files are saved beside the store (``dozor chat``).
Lines are read off the event loop; EOF ends the chat.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TextIO

from bot.commands import Invocation, dispatch
from bot.platforms.shared import parse_command
from bot.runtime import Runtime

PROMPT = "dozor> "


def invocation(line: str) -> Invocation | None:
    """The Invocation a console line stands for; None for a blank line."""
    typed = parse_command(line)
    if not typed.command:
        return None
    return Invocation(
        platform="console",
        chat_id=None,
        user_id="console",
        user_name="console",
        command=typed.command,
        args=typed.args,
        slash=typed.slash,
    )


async def run_chat(ctx: Runtime, input: TextIO, output: TextIO, files: Path | None = None) -> None:
    """Read commands from ``input`` until EOF; print each reply to ``output``; a file a
    reply carries (/stats, /export) is saved in ``files`` (default: the current
    directory), where the user finds it, not in a temporary directory."""
    folder = Path(".") if files is None else files
    interactive = bool(getattr(input, "isatty", None) and input.isatty())
    while True:
        if interactive:
            output.write(PROMPT)
            output.flush()
        line = await asyncio.to_thread(input.readline)
        if not line:
            break
        inv = invocation(line)
        if inv is None:
            continue
        reply = await dispatch(ctx, inv)
        text = reply.text.rstrip("\n")
        if reply.attachment is not None:  # a console shows no files: save it, say where
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / reply.attachment_name
            path.write_bytes(reply.attachment)
            text += f"\n(saved to {path})"
        output.write(text + "\n\n")
        output.flush()

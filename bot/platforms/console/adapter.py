"""The console destination: prints alerts to a text stream (stdout by default).

It is the adapter ``make run`` uses when no chat tokens are set, and the one tests
read.  Matched words are shown in **bold** markdown-style (ANSI bold on a terminal); an
item's media as "Media:" lines (kind and address).
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot.commands.types import Button
from bot.model import OutgoingMessage, SendResult, SendStatus
from bot.pictures import media_lines
from bot.render import plain, render


class ConsoleAdapter:
    kind = "console"
    started = True  # nothing to connect to
    listening = False  # commands come through ``dozor chat`` (bot/platforms/console/chat.py)

    def __init__(self, stream: TextIO | None = None, *, color: bool | None = None):
        self.stream = stream or sys.stdout
        self.color = (
            color
            if color is not None
            else bool(getattr(self.stream, "isatty", None) and self.stream.isatty())
        )

    async def start(self, *, listen: bool = True) -> None:
        return None

    async def stop(self) -> None:
        return None

    def format(self, message: OutgoingMessage) -> str:
        shown = render(message.alert)
        left, right = ("\033[1m", "\033[0m") if self.color else ("**", "**")
        rules = "; ".join(f"{rule} ({', '.join(terms)})" for rule, terms in shown.rules)
        lines = [
            f"── Dozor alert #{message.alert_id} → {message.destination} ──",
            f"Rule:    {rules}",
            *(
                [f"Severity: {message.alert.severity}"]
                if message.alert.severity != "normal"
                else []
            ),
            f"Source:  {shown.source}",
            f"Title:   {plain(shown.title, left, right)}",
        ]
        if shown.published:
            lines.append(f"When:    {shown.published}")
        text = " ".join(plain(shown.snippet, left, right).split())
        if text:
            lines.append(f"Snippet: {text}")
        if shown.link:
            lines.append(f"Link:    {shown.link}")
        lines.extend(f"Media:   {line}" for line in media_lines(message.alert.item))
        if message.note:
            lines.extend(f"Note:    {line}" for line in message.note.split("\n"))
        return "\n".join(lines) + "\n"

    async def send_text(
        self,
        destination: str,
        text: str,
        buttons: tuple[Button, ...] = (),
        *,
        reply_to: str | None = None,
    ) -> SendResult:
        shown = "".join(f"\n[{b.label}]" for b in buttons)
        header = f"── Dozor → {destination} ──"
        if reply_to is not None:
            header = f"── Dozor → {destination}, in reply to alert #{reply_to} ──"
        return await self._write(f"{header}\n{text}{shown}\n")

    async def edit(self, message: OutgoingMessage) -> SendResult:
        """A console cannot change what it printed: it prints the update under a header."""
        lines = [f"── Dozor alert #{message.alert_id} updated ──"]
        lines.extend(f"Note:    {line}" for line in (message.note or "").split("\n") if line)
        return await self._write("\n".join(lines) + "\n")

    async def send(self, message: OutgoingMessage) -> SendResult:
        result = await self._write(self.format(message))
        if result.status is SendStatus.SENT:  # the "message id" on a console: the alert's
            return SendResult(SendStatus.SENT, remote_id=str(message.alert_id))
        return result

    async def _write(self, text: str) -> SendResult:
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except OSError as exc:
            return SendResult(SendStatus.RETRY, f"cannot write to the console: {exc}")
        return SendResult(SendStatus.SENT)

"""What every chat adapter does the same way, written once: the outbound skeleton
(``ChatAdapter``: look the destination up, pace, post, fall back to plain text, map
errors to a ``SendResult``), the redraw after a button press with its store writes
(``pressed_alert``), and the reading of a command line (``parse_command``).

A platform's adapter subclasses ``ChatAdapter`` and fills in only what is its own:
how to post an alert, a plain text and an edit with its library, which exceptions
that library raises, and what each of them means (``failure``).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass
from functools import partial

from bot.commands.types import Button
from bot.model import Alert, Destination, OutgoingMessage, SendResult, SendStatus
from bot.outbox import compose_note
from bot.pacing import Pacer
from bot.platforms.base import Limits
from bot.render import split_plain
from bot.runtime import Runtime
from bot.store import retry_locked


@dataclass(frozen=True)
class CommandText:
    """A command line as typed: ``/watch@dozorbot Вагнер*`` -> head "/watch@dozorbot",
    args "Вагнер*"."""

    head: str
    args: str

    @property
    def slash(self) -> bool:
        return self.head.startswith("/")

    @property
    def name(self) -> str:
        """The head without its "/": "watch@dozorbot"."""
        return self.head.lstrip("/")

    @property
    def command(self) -> str:
        """The command's name, lowercased, without "@bot": "watch"."""
        return self.name.partition("@")[0].lower()

    @property
    def addressee(self) -> str:
        """The bot a command names ("/watch@otherbot"): "otherbot"; "" if none."""
        return self.name.partition("@")[2]


def parse_command(text: str) -> CommandText:
    head, _, args = text.strip().partition(" ")
    return CommandText(head, args.strip())


@dataclass(frozen=True)
class TextPart:
    """One part of a plain message as ``send_text`` split it: the buttons go under
    the first part only; ``reply_to`` is the message the whole answers."""

    text: str
    buttons: tuple[Button, ...]
    reply_to: str | None
    first: bool


@dataclass(frozen=True)
class Redraw:
    """A pressed alert to draw again: the alert and every note now under it."""

    alert_id: int
    alert: Alert
    note: str | None


async def pressed_alert(
    ctx: Runtime, platform: str, chat_id: int | str, message_id: str, note: str
) -> Redraw | None:
    """After a press on an alert's button did something (``note``: who muted what
    until when): the alert this chat message is, with ``note`` stored under it; None
    when the message is no alert of this chat's."""
    names = [
        d.name for d in ctx.destinations() if d.platform == platform and d.address == str(chat_id)
    ]
    store = ctx.store
    stored = store.alert_by_remote_id(names, message_id)
    if stored is None:
        return None
    await retry_locked(
        partial(store.add_note, stored.id, "mute", note, ctx.clock()), "a button's note"
    )
    return Redraw(stored.id, stored.alert, compose_note(store, stored.id, stored.alert.story_key))


class ChatAdapter:
    """The outbound half of a chat adapter.  Subclasses set ``kind``, ``title``,
    ``chat_noun``, ``limits``, ``errors`` (what their library raises), a ``pacer``
    and ``context``, and implement ``post_alert``, ``post_text``, ``update_alert``
    and ``failure``; ``refused_markup``/``post_plain`` where the platform may refuse
    an alert's markup and take it as plain text."""

    kind: str
    title: str
    chat_noun: str = "chat"
    markup: str = "markup"  # as the plain-text fallback's log line names it: "HTML"
    limits: Limits
    errors: tuple[type[BaseException], ...] = ()
    context: Runtime
    pacer: Pacer

    # -- what a platform fills in ---------------------------------------------------------

    async def post_alert(self, d: Destination, message: OutgoingMessage) -> str:
        """Post the alert; its message id."""
        raise NotImplementedError

    async def post_plain(self, d: Destination, message: OutgoingMessage) -> str:
        """Post the alert as plain text (its markup was refused); its message id."""
        raise NotImplementedError

    async def post_text(self, d: Destination, part: TextPart) -> str:
        """Post one part of a plain message; its id."""
        raise NotImplementedError

    async def update_alert(self, d: Destination, message: OutgoingMessage) -> SendResult | None:
        """Redraw a sent alert; a result to return instead of "sent", if any."""
        raise NotImplementedError

    def failure(self, d: Destination, exc: BaseException) -> SendResult:
        """What a library error means: retry later, or the destination is broken."""
        raise NotImplementedError

    def edit_failure(self, d: Destination, exc: BaseException) -> SendResult:
        return self.failure(d, exc)

    def refused_markup(self, exc: BaseException) -> bool:
        """Whether the platform refused the alert's markup (send it as plain text)."""
        return False

    def describe(self, exc: BaseException) -> str:
        return str(exc)

    def pace_key(self, d: Destination) -> Hashable:
        return d.address

    def split(self, text: str) -> list[str]:
        """A plain message in parts the platform accepts, split at line breaks."""
        return split_plain(text, self.limits.text_limit, self.limits.measure)

    # -- the skeleton ---------------------------------------------------------------------

    def _found(self, name: str) -> Destination | None:
        found = self.context.destination(name)
        return found if found is not None and found.address is not None else None

    async def send(self, message: OutgoingMessage) -> SendResult:
        d = self._found(message.destination)
        if d is None:
            return SendResult(
                SendStatus.BROKEN, f"no {self.title} {self.chat_noun} for {message.destination}"
            )
        key = self.pace_key(d)
        async with self.pacer.lock(key):
            await self.pacer.wait(key)
            try:
                remote = await self.post_alert(d, message)
            except self.errors as exc:
                if not self.refused_markup(exc):
                    return self.failure(d, exc)
                logging.getLogger(f"dozor.{self.kind}").error(
                    "%s refused the %s of alert %s (%s); sending it as plain text",
                    self.title,
                    self.markup,
                    message.alert_id,
                    self.describe(exc),
                )
                try:
                    remote = await self.post_plain(d, message)
                except self.errors as again:
                    return self.failure(d, again)
            finally:
                self.pacer.sent(key)
        return SendResult(SendStatus.SENT, remote_id=remote)

    async def send_text(
        self,
        destination_name: str,
        text: str,
        buttons: tuple[Button, ...] = (),
        *,
        reply_to: str | None = None,
    ) -> SendResult:
        """A plain message (a digest, a notice), split within the platform's limit;
        ``reply_to``: the message it answers, in its thread."""
        d = self._found(destination_name)
        if d is None:
            return SendResult(
                SendStatus.BROKEN, f"no {self.title} {self.chat_noun} for {destination_name}"
            )
        key = self.pace_key(d)
        first: str | None = None
        async with self.pacer.lock(key):
            for chunk in self.split(text):
                await self.pacer.wait(key)
                try:
                    part = TextPart(
                        chunk, buttons if first is None else (), reply_to, first is None
                    )
                    remote = await self.post_text(d, part)
                except self.errors as exc:
                    return self.failure(d, exc)
                finally:
                    self.pacer.sent(key)
                first = first or remote
        return SendResult(SendStatus.SENT, remote_id=first)

    async def edit(self, message: OutgoingMessage) -> SendResult:
        """Redraw a sent alert with its notes ("also seen in", deletions), keeping its
        buttons."""
        d = self._found(message.destination)
        if d is None or message.remote_id is None:
            return SendResult(
                SendStatus.BROKEN, f"no {self.title} message for {message.destination}"
            )
        try:
            instead = await self.update_alert(d, message)
        except self.errors as exc:
            return self.edit_failure(d, exc)
        return instead or SendResult(SendStatus.SENT, remote_id=message.remote_id)

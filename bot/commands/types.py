"""What every chat platform hands the command layer, and what it gets back.

Adapters (Telegram, Slack, the console) translate their library's events into an
``Invocation`` and render a ``Reply`` in their own markup; nothing here knows a
platform.  Reply text is plain text: adapters escape it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.model import chat_key


@dataclass(frozen=True)
class Invocation:
    """One command as a user typed it, with who and where."""

    platform: str  # "telegram" | "slack" | "console"
    chat_id: int | str | None  # None for the console
    user_id: int | str
    user_name: str  # as the chat shows the user, e.g. "@anna" or "Anna"
    command: str  # without "/" and without "@botname": "watch"
    args: str  # the rest of the line, stripped
    chat_type: str = "private"  # "private" | "group" | "supergroup" | "channel" | "im"
    thread_id: int | None = None  # forum topic
    reply_to_message_id: str | None = None  # the message this command replies to
    attachment: bytes | None = None  # a file sent with the command, or the one it answers
    slash: bool = True  # typed with its "/" (or as a Slack slash command); False: plain text

    @property
    def chat(self) -> str:
        """The chat key that mutes and permissions are kept under."""
        return chat_key(self.platform, self.chat_id)


@dataclass(frozen=True)
class Button:
    """An inline button: ``data`` comes back in a ``Press`` (at most 64 bytes)."""

    label: str
    data: str


@dataclass(frozen=True)
class Reply:
    text: str
    ephemeral: bool = False  # only the caller should see it (Slack); Telegram just replies
    buttons: tuple[Button, ...] = ()
    image: bytes | None = None  # a PNG to send with the text (a photo in Telegram)
    image_name: str = "dozor.png"
    file: bytes | None = None  # a file to send with the text (a document in Telegram)
    file_name: str = "dozor.txt"

    @property
    def attachment(self) -> bytes | None:
        return self.image if self.image is not None else self.file

    @property
    def attachment_name(self) -> str:
        return self.image_name if self.image is not None else self.file_name


@dataclass(frozen=True)
class Press:
    """A press on an alert's button, as the adapter saw it."""

    platform: str
    chat_id: int | str | None
    user_id: int | str
    user_name: str
    message_id: str  # the alert message's id in that chat
    data: str
    thread_id: int | None = None

    @property
    def chat(self) -> str:
        return chat_key(self.platform, self.chat_id)


@dataclass(frozen=True)
class PressOutcome:
    """What a button press did: a short notice for the presser, and the alert's new
    text note (e.g. "🔇 @anna muted source ria until 15:00 UTC") with new buttons."""

    notice: str
    note: str | None = None
    buttons: tuple[Button, ...] = field(default_factory=tuple)

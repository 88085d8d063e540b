"""The ``Platform`` interface: what Dozor needs of a chat platform, and what it offers.

    outbox -> Adapter.send / edit / send_text -> the platform's API
    the platform's events -> Invocation / Press -> bot.commands -> Reply -> the platform

Each platform is one package under ``bot/platforms/`` (console, telegram, slack, ...)
that defines one ``Platform`` subclass and is named on one line of the registry,
``bot/platforms/__init__.py``.  Nothing outside the package knows the platform:

- its config section (``section``: the table's name, its keys, a parser) and the keys
  of a ``[[destinations]]`` table that only it takes (``destination_keys``, read by
  ``parse_destination`` into a neutral ``Address``);
- who its admins are and which chats it serves besides its destinations' chats
  (``is_admin``, ``serves``, ``members_can_watch``, ``is_private``);
- its secrets (``secret_variables``, and ``secret_keys``: destination keys that name
  a variable), which the logs hide;
- its limits and what it can do, as data (``Limits``, ``Capabilities``): /help and
  README say what a platform cannot do from ``Capabilities.missing``;
- ``connect`` builds its runtime ``Adapter`` (start/stop, send/edit/send_text), or
  says why it cannot (``Unavailable``: its alerts wait in the outbox), or that it is
  not wanted (None: not configured at all).

``Platform`` objects are stateless descriptions (one instance in the registry);
everything that holds a connection is the ``Adapter`` that ``connect`` returns.  Every
method gets the whole ``Settings``; ``own(settings)`` is the platform's own section.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from bot.commands.types import Button
    from bot.config import Settings
    from bot.configread import Reader
    from bot.model import Destination, OutgoingMessage, SendResult
    from bot.runtime import Runtime


@dataclass(frozen=True)
class Limits:
    """A platform's limits, as data (0: the platform has no such thing)."""

    message: int  # one alert's rendered markup, as ``measure`` counts it
    text: int = 0  # one plain message (digest, reply) before it is split; 0: ``message``
    caption: int = 0  # a file's caption
    buttons: int = 0  # buttons under one message
    button_label: int = 0  # characters of a button's label
    notice: int = 0  # the answer to a button press (a toast)
    measure: Callable[[str], int] = len  # Telegram counts UTF-16 units
    # how it shows an alert's pictures (``bot.pictures.MODES``: "preview", "photo",
    # "album"); empty: as text lines only.  ``album``: photos in one album.
    media: tuple[str, ...] = ()
    album: int = 0

    @property
    def text_limit(self) -> int:
        return self.text or self.message


@dataclass(frozen=True)
class Capabilities:
    """What a platform can do; alerts go everywhere, the rest only where it says so."""

    commands: bool = False  # takes chat commands (/watch, /mute ...)
    buttons: bool = False  # mute buttons under alerts
    threads: bool = False  # a destination may post into one topic or thread
    files: bool = False  # sends files (/stats charts, /export) and reads them (/import)
    edits: bool = False  # changes a sent alert ("also seen in", deletions) in place

    @classmethod
    def everything(cls) -> Capabilities:
        return cls(commands=True, buttons=True, threads=True, files=True, edits=True)

    def missing(self) -> tuple[str, ...]:
        """What it cannot do, by name ("buttons", "files"), for /help and README."""
        return tuple(f.name for f in fields(self) if not getattr(self, f.name))


@dataclass(frozen=True)
class Section:
    """A platform's ``[name]`` table of config.toml: its keys (README documents each
    one; an unknown key is an error) and the parser that reads it into settings.
    ``parse(reader, raw_table)`` reports problems through ``reader`` with their key
    path (``telegram.mode: expected polling or webhook, got "push"``)."""

    name: str
    keys: tuple[str, ...]
    parse: Callable[[Reader, Any], Any]


@dataclass(frozen=True)
class Address:
    """Where one destination posts on its platform, as ``parse_destination`` read it:
    ``address`` the chat/channel/room id as text (None: the platform needs none, as the
    console), ``thread`` a topic or thread in it, ``options`` the platform's own
    destination keys by name (``{"link_preview": True}``)."""

    address: str | None
    thread: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


class Unavailable(Exception):
    """The platform is configured but cannot connect (a token is not set): its alerts
    wait in the outbox.  The message completes "alerts wait ..." in /status, e.g.
    "as TELEGRAM_BOT_TOKEN is not set"; ``missing`` names the variables not set, which
    ``dozor status`` shows ("down: no token set (TELEGRAM_BOT_TOKEN)")."""

    def __init__(self, why: str, missing: Sequence[str] = ()):
        super().__init__(why)
        self.missing = tuple(missing)


@dataclass(frozen=True)
class Wiring:
    """What ``connect`` may use: the commands' context (store, destinations, clock),
    the environment (tokens live there, never in config), the console's stream."""

    context: Runtime
    environ: Mapping[str, str]
    stream: TextIO | None = None


class Sender(Protocol):
    """What the outbox drives of a connected platform.  ``send`` and ``edit`` and
    ``send_text`` never raise for a platform error: the ``SendResult`` says whether to
    retry later (rate limit, network) or that the destination is broken."""

    kind: str  # the platform's name

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Post one alert (``message.alert``, ``message.note`` under it) to
        ``message.destination``; the result's ``remote_id`` is kept for ``edit``."""
        ...

    async def edit(self, message: OutgoingMessage) -> SendResult:
        """Redraw a sent alert (``message.remote_id``) with ``message.note`` under it."""
        ...

    async def send_text(
        self,
        destination: str,
        text: str,
        buttons: tuple[Button, ...] = (),
        *,
        reply_to: str | None = None,
    ) -> SendResult:
        """A plain message, split as the platform needs (digests, notices); ``reply_to``:
        a sent message's id (its remote id) to answer, in its thread."""
        ...


class Adapter(Sender, Protocol):
    """A connected platform, as the app drives it: a ``Sender`` it starts and stops."""

    started: bool  # connected (start returned)
    listening: bool  # taking commands

    async def start(self, *, listen: bool = True) -> None:
        """Connect; with ``listen``, also take commands (where the platform has them)."""
        ...

    async def stop(self) -> None:
        """Disconnect, also after a ``start`` cut short; the app bounds it in time."""
        ...


class Platform(ABC):
    """One chat platform, described as data plus a few small methods.  Subclass it,
    set the class attributes, implement ``parse_destination`` and ``connect``."""

    name: str  # "telegram": a destination's kind, the config section, the chat-key prefix
    title: str  # "Telegram", as messages name the platform
    limits: Limits
    can: Capabilities = Capabilities()
    section: Section | None = None  # its config table; None: it has none
    default: Any = None  # its settings when the table is absent (``section.parse`` of {})
    destination_keys: tuple[str, ...] = ()  # [[destinations]] keys only this platform takes
    chats_key: str = "chats"  # the key of its section that lists served chats, for messages
    chat_noun: str = "chat"  # "channel", "room": "no Slack channel for desk"
    # Opt-in defaults read from the platform's own section: the key listing admin user
    # ids, the key listing chats served besides destinations' (None: none).
    admins_key: str | None = None
    served_key: str | None = None
    # Its secrets, for the logs to hide (bot/logs.py): the environment variables that
    # hold one, and the destination keys whose value names such a variable.
    secret_variables: tuple[str, ...] = ()
    secret_keys: tuple[str, ...] = ()

    # -- settings ----------------------------------------------------------------------

    def own(self, settings: Settings) -> Any:
        """This platform's settings (its section as parsed, or its default)."""
        return settings.section(self.name)

    @abstractmethod
    def parse_destination(self, r: Reader, table: Mapping[str, Any], where: str) -> Address:
        """Read the ``destination_keys`` of one ``[[destinations]]`` table of this kind
        (``where`` is its key path, e.g. "destinations[2]"); report problems through
        ``r``; return what was read (an ``Address`` with ``None`` parts on errors)."""

    def complete(self, destination: Destination) -> Destination:
        """A destination as this platform reads it, from its neutral parts (a row the
        store made for a chat, an address that moved): e.g. options derived from the
        address.  By default, as it is."""
        return destination

    def secrets(self, settings: Settings | None) -> tuple[str, ...]:
        """The environment variables that hold this platform's secrets: its own, and
        those its destinations' ``secret_keys`` name (with the loaded ``settings``)."""
        named = [
            str(d.option(key))
            for d in (settings.destinations if settings is not None else ())
            if d.platform == self.name
            for key in self.secret_keys
            if d.option(key)
        ]
        return tuple(dict.fromkeys((*self.secret_variables, *named)))

    # -- who may do what ----------------------------------------------------------------

    def listed(self, settings: Settings, key: str | None, value: object) -> bool:
        """Whether ``value`` is in the list under ``key`` of this platform's section
        (compared as text: 42 and "42" are one id)."""
        listing = getattr(self.own(settings), key, ()) if key else ()
        return value is not None and any(str(v) == str(value) for v in listing or ())

    def is_admin(self, settings: Settings, user_id: int | str) -> bool:
        """Whether this user may do anything anywhere (e.g. ``[telegram] admins``); by
        default, whether it is listed under ``admins_key``."""
        return self.listed(settings, self.admins_key, user_id)

    def serves(self, settings: Settings, chat_id: int | str | None) -> bool:
        """Whether this chat is served besides its destinations' chats (e.g.
        ``[telegram] chats``; by default, listed under ``served_key``); the chats of
        destinations are served anyway."""
        return self.listed(settings, self.served_key, chat_id)

    def members_can_watch(self, settings: Settings) -> bool:
        """Whether members of served chats may add rules and mutes there (by default,
        the section's ``members_can_watch``, else yes)."""
        return bool(getattr(self.own(settings), "members_can_watch", True))

    def is_private(self, chat_type: str | None) -> bool:
        """Whether a chat of this type is a private chat with the bot (a DM)."""
        return chat_type in ("private", "im")

    # -- running ------------------------------------------------------------------------

    def wanted(self, settings: Settings, destinations: Sequence[Destination]) -> bool:
        """Whether to connect at all: by default, when a destination posts here, or
        its section lists admins or served chats (they may send commands)."""
        own = self.own(settings)
        listed = any(getattr(own, key, ()) for key in (self.admins_key, self.served_key) if key)
        return listed or any(d.platform == self.name for d in destinations)

    @abstractmethod
    def connect(self, settings: Settings, wiring: Wiring) -> Adapter:
        """The runtime adapter (not started yet); raise ``Unavailable`` when it is
        configured but cannot run (a token is missing), after logging why."""

    def cannot(self) -> str | None:
        """What this platform cannot do, in a sentence for /help and README; None when
        it can do everything Dozor offers."""
        missing = self.can.missing()
        if not missing:
            return None
        names = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} or {missing[-1]}"
        return f"{self.title} has no {names}; alerts arrive all the same"

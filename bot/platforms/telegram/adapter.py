"""The Telegram edge: python-telegram-bot in the bot's own event loop.

Outbound, ``send`` delivers one outbox alert as HTML with mute buttons, paced per chat
(``per_chat_interval``, ``group_per_minute``) and overall (``global_per_second``), and
turns every Bot API answer into a ``SendResult`` the outbox acts on:

    RetryAfter (429)            -> retry for that chat after retry_after; never give up
    ChatMigrated                -> remember the new chat id, send again at once
    Forbidden, chat not found   -> destination broken: alerts kept, said in /status
    can't parse entities        -> send the same alert as plain text
    TimedOut, NetworkError, 5xx -> retry with backoff

An alert's photos (``bot.pictures``): by default the first one as the message's link
preview above the text; with ``media = "photo"`` sent as a photo with the alert as its
caption (the rest of a long post in a reply), with ``"album"`` as an album answering the
alert.  A photo URL Telegram cannot fetch is fetched by Dozor (``watchers.media``, the
rules for untrusted URLs) and uploaded; failing that the alert goes out as text saying
"photo could not be shown".  Every request of an alert is paced; a 429 on the photo
retries the whole alert later, as for text.

Inbound, commands and button presses become neutral ``Invocation``s and ``Press``es for
``bot.commands``; replies go back as plain text (no markup to escape).  The token comes
from ``TELEGRAM_BOT_TOKEN`` and is never logged.

The lookup, pacing, plain-text fallback and error mapping around each send are
``bot.platforms.shared.ChatAdapter``'s; this module says how to post with python-telegram-bot
and what each of its errors means.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    LinkPreviewOptions,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot import pacing, pictures
from bot.commands import COMMANDS, alert_buttons, dispatch, press
from bot.commands.types import Button, Invocation, Press
from bot.model import Destination, Media, OutgoingMessage, SendResult, SendStatus
from bot.platforms.shared import ChatAdapter, TextPart, parse_command, pressed_alert
from bot.platforms.telegram.render import (
    LIMITS,
    TELEGRAM_LIMIT,
    split_text,
    telegram_caption,
    telegram_html,
)
from bot.platforms.telegram.settings import TelegramSettings
from bot.render import plain_alert
from bot.runtime import Runtime
from watchers.http import FetchError, HttpClient, redact_url
from watchers.media import fetch_image

log = logging.getLogger("dozor.telegram")

BROKEN_MARKERS = (
    "chat not found",
    "bot was kicked",
    "bot was blocked",
    "not enough rights",
    "have no rights",
    "need administrator rights",
    "chat_write_forbidden",
    "topic_closed",
    "message thread not found",
    "topic deleted",
    "user is deactivated",
)


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in buttons]]
    )


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Pacer(pacing.Pacer):
    """Telegram's flood limits as waits: one chat at most once per ``per_chat_interval``, a
    group (negative id) at most ``group_per_minute`` a minute, everything at most
    ``global_per_second``."""

    def __init__(self, settings: TelegramSettings, clock: Callable[[], float] = time.monotonic):
        super().__init__(
            settings.per_chat_interval.total_seconds(),
            per_minute=settings.group_per_minute,
            grouped=_is_group,
            per_second=settings.global_per_second,
            clock=clock,
        )


def _is_group(chat_id: Hashable) -> bool:
    return isinstance(chat_id, int) and chat_id < 0


class TelegramAdapter(ChatAdapter):
    kind = "telegram"
    title = "Telegram"
    markup = "HTML"
    limits = LIMITS
    errors = (TelegramError,)

    def __init__(
        self,
        token: str,
        settings: TelegramSettings,
        context: Runtime,
        *,
        webhook_secret: str | None = None,
        allow_private: Sequence[str] = (),
    ):
        self.settings = settings
        self.allow_private = tuple(allow_private)  # [polling] allow_private, for image fetches
        self.webhook_secret = webhook_secret  # Telegram sends it back on every webhook call
        self.context = context
        root = settings.api_base_url.rstrip("/")
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            Application.builder()
            .token(token)
            .base_url(f"{root}/bot")
            .base_file_url(f"{root}/file/bot")
            .build()
        )
        self.app.add_handler(MessageHandler(filters.COMMAND, self._on_command))
        # a file with a command as its caption ("/import" under an OPML file)
        self.app.add_handler(
            MessageHandler(filters.Document.ALL & filters.CaptionRegex(r"^/\w"), self._on_command)
        )
        self.app.add_handler(CallbackQueryHandler(self._on_press))
        self.app.add_error_handler(self._on_error)
        self.pacer = Pacer(settings)
        self.started = False
        self.listening = False

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, *, listen: bool = True) -> None:
        """Connect (getMe); with ``listen``, also register the command menu and take
        updates by long polling or webhook."""
        await self.app.initialize()
        self.started = True
        if not listen:
            return
        await self.app.bot.set_my_commands([BotCommand(c.name, c.summary[:256]) for c in COMMANDS])
        await self.app.start()
        assert self.app.updater is not None
        if self.settings.mode == "webhook" and self.settings.webhook_url:
            host, _, port = self.settings.webhook_listen.rpartition(":")
            await self.app.updater.start_webhook(
                listen=host,
                port=int(port),
                url_path=urlsplit(self.settings.webhook_url).path.lstrip("/"),
                webhook_url=self.settings.webhook_url,
                secret_token=self.webhook_secret,
                allowed_updates=["message", "callback_query"],
            )
        else:
            await self.app.updater.start_polling(
                poll_interval=0.0, timeout=20, allowed_updates=["message", "callback_query"]
            )
        self.listening = True
        log.info("Telegram: connected as @%s (%s)", self.app.bot.username, self.settings.mode)

    async def stop(self) -> None:
        """Disconnect; also after a ``start`` cut short (the bot stopped while connecting)."""
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()  # ends the getUpdates long poll at once
        if self.app.running:
            await self.app.stop()
        self.listening = False
        if self.started:
            await self.app.shutdown()
            self.started = False

    # -- outbound: the skeleton is ChatAdapter's -------------------------------------------

    def pace_key(self, d: Destination) -> Hashable:
        return int(d.address or 0)

    def split(self, text: str) -> list[str]:
        return split_text(text)

    def _where(self, d: Destination, silent: bool = False) -> dict[str, Any]:
        return {
            "chat_id": int(d.address or 0),
            "message_thread_id": int(d.thread) if d.thread else None,
            "disable_notification": d.silent or silent,
        }

    async def post_alert(self, d: Destination, message: OutgoingMessage) -> str:
        """The alert as the destination's ``media`` way asks (``bot.pictures``): as text
        with its first photo as the link preview ("preview", the default), as a photo
        with the alert as its caption ("photo"), or as text with an album under it
        ("album"); without photos, as text."""
        mode = pictures.mode_for(message.alert, d, self.limits)
        shown = pictures.photos(message.alert.item)
        if mode == "photo":
            return await self._post_photo(d, message, shown[0])
        if mode == "album":
            remote = await self._post_message(d, message)
            await self._post_album(d, message, shown[: self.limits.album], remote)
            return remote
        return await self._post_message(d, message, shown[0] if mode == "preview" else None)

    async def _post_message(
        self,
        d: Destination,
        message: OutgoingMessage,
        preview: Media | None = None,
        note: str | None = None,
    ) -> str:
        """The alert as one text message; ``preview``: a photo to show above the text as
        its link preview; ``note``: a line under the alert's own note."""
        options = LinkPreviewOptions(is_disabled=not d.link_preview)
        if preview is not None:
            options = LinkPreviewOptions(
                url=preview.url, show_above_text=True, prefer_large_media=True
            )
        sent = await self.app.bot.send_message(
            text=telegram_html(message.alert, _joined(message.note, note)),
            parse_mode="HTML",
            link_preview_options=options,
            reply_markup=keyboard(alert_buttons(message.alert_id, message.alert)),
            **self._where(d, message.silent),
        )
        return str(sent.message_id)

    async def _next_request(self, d: Destination) -> None:
        """Pace the next request of one alert that takes several (photo and reply)."""
        key = self.pace_key(d)
        self.pacer.sent(key)
        await self.pacer.wait(key)

    async def _post_photo(self, d: Destination, message: OutgoingMessage, photo: Media) -> str:
        """The photo with the alert as its caption, the snippet's rest in a reply.  If
        Telegram cannot fetch the image, Dozor fetches it (``watchers.media``) and
        uploads it; if that fails too, the alert goes out as text saying so."""
        assert photo.url is not None
        caption, rest = telegram_caption(message.alert, message.note)
        send = partial(
            self.app.bot.send_photo,
            caption=caption,
            parse_mode="HTML",
            reply_markup=keyboard(alert_buttons(message.alert_id, message.alert)),
            **self._where(d, message.silent),
        )
        try:
            sent = await send(photo=photo.url)
        except BadRequest as exc:
            if not _url_refused(exc):
                raise
            log.info("Telegram could not fetch %s (%s); uploading it", redact_url(photo.url), exc)
            image = await self._fetch(photo)
            if image is None:
                return await self._cannot_show(d, message, photo)
            await self._next_request(d)
            try:
                sent = await send(photo=InputFile(image.data, filename=image.name))
            except BadRequest as again:
                if self.refused_markup(again):
                    raise
                log.warning("Telegram refused the upload of %s: %s", redact_url(photo.url), again)
                return await self._cannot_show(d, message, photo)
        remote = str(sent.message_id)
        if rest:
            await self._next_request(d)
            try:
                await self.app.bot.send_message(
                    text=rest,
                    parse_mode="HTML",
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                    reply_parameters=ReplyParameters(sent.message_id),
                    **self._where(d, True),
                )
            except TelegramError as exc:  # the alert is out; its longer text is not
                log.warning("Telegram: the rest of alert %s not sent: %s", message.alert_id, exc)
        return remote

    async def _cannot_show(self, d: Destination, message: OutgoingMessage, photo: Media) -> str:
        await self._next_request(d)
        return await self._post_message(d, message, note=f"{pictures.CANNOT_SHOW}: {photo.url}")

    async def _post_album(
        self, d: Destination, message: OutgoingMessage, photos: Sequence[Media], reply_to: str
    ) -> None:
        """Up to ``album`` photos as one album answering the alert's message; photos
        Telegram cannot fetch are uploaded, those no one can fetch are left out, and when
        none is left a line says so.  The alert is out already: nothing here fails it."""
        where = {**self._where(d, True), "reply_parameters": ReplyParameters(int(reply_to))}
        await self._next_request(d)
        try:
            try:
                await self.app.bot.send_media_group(
                    media=[InputMediaPhoto(p.url or "") for p in photos], **where
                )
                return
            except BadRequest as exc:
                if not _url_refused(exc):
                    raise
                log.info("Telegram could not fetch an album's photos (%s); uploading", exc)
            uploads = [u for u in [await self._fetch(p) for p in photos] if u is not None]
            if len(uploads) == 1:  # an album holds two or more
                await self._next_request(d)
                await self.app.bot.send_photo(
                    photo=InputFile(uploads[0].data, uploads[0].name), **where
                )
                return
            if uploads:
                await self._next_request(d)
                await self.app.bot.send_media_group(
                    media=[InputMediaPhoto(u.data, filename=u.name) for u in uploads], **where
                )
                return
        except TelegramError as exc:
            log.warning("Telegram: the album of alert %s not sent: %s", message.alert_id, exc)
        await self._next_request(d)
        try:
            await self.app.bot.send_message(
                text=f"{pictures.CANNOT_SHOW}: {photos[0].url}",
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                **where,
            )
        except TelegramError as exc:
            log.warning("Telegram: alert %s's photo note not sent: %s", message.alert_id, exc)

    async def _fetch(self, photo: Media) -> Upload | None:
        """The image, fetched by Dozor under the rules for untrusted URLs
        (``watchers.media.fetch_image``); None, with a one-line warning, when it cannot be."""
        assert photo.url is not None
        try:
            async with HttpClient(allow=self.allow_private) as http:
                image = await fetch_image(http, photo.url, timeout=IMAGE_TIMEOUT)
        except (FetchError, ValueError) as exc:  # ImageError is a FetchError
            log.warning("Telegram: photo of an alert not shown: %s", exc)
            return None
        return Upload(image.body, f"photo{image.extension}")

    async def post_plain(self, d: Destination, message: OutgoingMessage) -> str:
        sent = await self.app.bot.send_message(
            text=plain_alert(message.alert)[: TELEGRAM_LIMIT - 10],
            link_preview_options=LinkPreviewOptions(is_disabled=not d.link_preview),
            reply_markup=keyboard(alert_buttons(message.alert_id, message.alert)),
            **self._where(d, message.silent),
        )
        return str(sent.message_id)

    async def post_text(self, d: Destination, part: TextPart) -> str:
        sent = await self.app.bot.send_message(
            text=part.text,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_markup=keyboard(part.buttons),
            reply_parameters=(
                ReplyParameters(int(part.reply_to), allow_sending_without_reply=True)
                if part.reply_to is not None and part.first
                else None
            ),
            **self._where(d),
        )
        return str(sent.message_id)

    async def update_alert(self, d: Destination, message: OutgoingMessage) -> SendResult | None:
        """Redraw the alert's text, or its caption when it went out as a photo."""
        assert message.remote_id is not None
        markup = keyboard(alert_buttons(message.alert_id, message.alert))
        mode = pictures.mode_for(message.alert, d, self.limits)
        shown = pictures.photos(message.alert.item)
        try:
            await self.app.bot.edit_message_text(
                telegram_html(message.alert, message.note),
                chat_id=int(d.address or 0),
                message_id=int(message.remote_id),
                parse_mode="HTML",
                link_preview_options=(
                    LinkPreviewOptions(
                        url=shown[0].url, show_above_text=True, prefer_large_media=True
                    )
                    if mode == "preview"
                    else LinkPreviewOptions(is_disabled=not d.link_preview)
                ),
                reply_markup=markup,
            )
        except BadRequest as exc:
            if "no text in the message" not in str(exc).lower():
                raise
            await self.app.bot.edit_message_caption(
                chat_id=int(d.address or 0),
                message_id=int(message.remote_id),
                caption=telegram_caption(message.alert, message.note)[0],
                parse_mode="HTML",
                reply_markup=markup,
            )
        return None

    def refused_markup(self, exc: BaseException) -> bool:
        return isinstance(exc, BadRequest) and "parse entities" in str(exc).lower()

    def edit_failure(self, d: Destination, exc: BaseException) -> SendResult:
        if isinstance(exc, BadRequest):
            if "not modified" in str(exc).lower():
                return SendResult(SendStatus.SENT)
            return SendResult(SendStatus.BROKEN, f"Telegram: {exc}")
        return self.failure(d, exc)

    def failure(self, d: Destination, exc: BaseException) -> SendResult:
        text = str(exc)
        if isinstance(exc, RetryAfter):
            wait = _seconds(exc.retry_after)
            return SendResult(
                SendStatus.RETRY,
                f"Telegram flood limit: retry after {wait:.0f} s",
                retry_after=timedelta(seconds=wait),
            )
        if isinstance(exc, ChatMigrated):
            log.warning(
                "Telegram: chat %s of %s is now %s; sending there",
                d.address,
                d.name,
                exc.new_chat_id,
            )
            self.context.store.set_destination_address(d.name, str(exc.new_chat_id))
            return SendResult(
                SendStatus.RETRY, "the group became a supergroup", retry_after=timedelta(0)
            )
        if isinstance(exc, Forbidden | InvalidToken):
            return SendResult(SendStatus.BROKEN, f"Telegram: {text}")
        if isinstance(exc, BadRequest):
            if any(marker in text.lower() for marker in BROKEN_MARKERS):
                return SendResult(SendStatus.BROKEN, f"Telegram: {text}")
            return SendResult(SendStatus.BROKEN, f"Telegram refused the message: {text}")
        if isinstance(exc, NetworkError):  # TimedOut, connection errors, 5xx
            return SendResult(SendStatus.RETRY, f"Telegram unreachable: {text}")
        return SendResult(SendStatus.RETRY, f"Telegram error: {text}")

    # -- inbound -------------------------------------------------------------------------

    async def _on_command(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        user = update.effective_user
        chat = update.effective_chat
        text = message.text or message.caption if message is not None else None
        if message is None or text is None or user is None or chat is None:
            return
        typed = parse_command(text)
        me = self.app.bot.username or ""
        if typed.addressee and typed.addressee.lower() != me.lower():
            return  # "/watch@otherbot": not for us
        attachment = None
        document = message.document or (
            message.reply_to_message.document if message.reply_to_message else None
        )
        if typed.command in FILE_COMMANDS and document is not None:
            if (document.file_size or 0) > FILE_LIMIT:
                await message.reply_text(
                    f"that file is over {FILE_LIMIT // 1_000_000} MB: not read", do_quote=False
                )
                return
            try:
                attachment = bytes(await (await document.get_file()).download_as_bytearray())
            except TelegramError as exc:
                await message.reply_text(f"could not read that file: {exc}", do_quote=False)
                return
        invocation = Invocation(
            platform="telegram",
            chat_id=chat.id,
            user_id=user.id,
            user_name=f"@{user.username}" if user.username else user.full_name,
            command=typed.command,
            args=typed.args,
            chat_type=chat.type,
            thread_id=message.message_thread_id if message.is_topic_message else None,
            reply_to_message_id=(
                str(message.reply_to_message.message_id) if message.reply_to_message else None
            ),
            attachment=attachment,
        )
        reply = await dispatch(self.context, invocation)
        if not reply.text and reply.attachment is None:
            return  # e.g. a flood-limited user who was already told
        if reply.attachment is not None:  # a chart as a photo, any other file as a document
            send = message.reply_photo if reply.image is not None else message.reply_document
            upload = InputFile(reply.attachment, filename=reply.attachment_name)
            await send(upload, caption=reply.text[: self.limits.caption], do_quote=False)
            if len(reply.text) <= self.limits.caption:
                return
        for chunk in split_text(reply.text):
            await message.reply_text(chunk, reply_markup=keyboard(reply.buttons), do_quote=False)

    async def _on_press(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None or query.message is None:
            return
        user = query.from_user
        chat = query.message.chat
        outcome = await press(
            self.context,
            Press(
                platform="telegram",
                chat_id=chat.id,
                user_id=user.id,
                user_name=f"@{user.username}" if user.username else user.full_name,
                message_id=str(query.message.message_id),
                data=query.data,
            ),
        )
        await query.answer(outcome.notice[: self.limits.notice])
        if outcome.note is None:
            return
        redraw = await pressed_alert(
            self.context, self.kind, chat.id, str(query.message.message_id), outcome.note
        )
        if redraw is None:
            return
        if query.message.photo:  # an alert sent as a photo: its caption
            await query.edit_message_caption(
                telegram_caption(redraw.alert, redraw.note)[0],
                parse_mode="HTML",
                reply_markup=keyboard(outcome.buttons),
            )
            return
        await query.edit_message_text(
            telegram_html(redraw.alert, redraw.note),
            parse_mode="HTML",
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_markup=keyboard(outcome.buttons),
        )

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("Telegram: handling an update failed: %r", context.error)


def _joined(*notes: str | None) -> str | None:
    return "\n".join(n for n in notes if n) or None


# Telegram's words when it cannot fetch a photo's URL: Dozor then uploads it itself
URL_REFUSED = (
    "wrong file identifier/http url specified",
    "failed to get http url content",
    "wrong type of the web page content",
    "image_process_failed",
    "webpage_media_empty",
    "wrong remote file identifier",
)


def _url_refused(exc: BadRequest) -> bool:
    text = str(exc).lower()
    return any(marker in text for marker in URL_REFUSED)


IMAGE_TIMEOUT = 20.0  # seconds to fetch a photo Telegram could not: the alert waits that long


@dataclass(frozen=True)
class Upload:
    """A photo fetched by Dozor, to upload."""

    data: bytes
    name: str  # "photo.jpg"


FILE_COMMANDS = frozenset({"import"})  # commands that read the file they come with
FILE_LIMIT = 1_000_000  # bytes

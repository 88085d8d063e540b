"""The Slack edge: slack-bolt's async app in the bot's own event loop.

Outbound, ``send`` posts one outbox alert as Block Kit (``render.slack_blocks``) with
the mute buttons, into a channel or one thread of it, paced per channel
(``per_channel_interval``), and turns every Web API answer into a ``SendResult``:

    429 ratelimited (Retry-After)             -> retry that destination after Retry-After
    channel_not_found, not_in_channel,
    is_archived, invalid_auth, token_revoked,
    account_inactive, missing_scope ...       -> destination broken: alerts kept, in /status
    invalid_blocks, msg_too_long              -> the same alert as plain text
    5xx, fatal_error, network errors          -> retry with backoff

Inbound, ``/dozor <command> ...`` and mentions (``@Dozor mute ria for 2h``) become
neutral ``Invocation``s for ``bot.commands``: a slash command is answered through its
response_url (ephemeral when ``Reply.ephemeral``, else in the channel), a mention in
its thread.  A press on an alert's button is acknowledged at once, handed to
``press``, and the alert is redrawn with ``chat.update`` to say who muted what until
when.  Socket Mode by default (no public URL); in HTTP mode one aiohttp server takes
events, slash commands and interactivity on ``/slack/events``, every request's
signature and timestamp checked by bolt.  Only the workspace the bot token belongs to
(auth.test's ``team_id``) is served: a request from any other is refused.  Tokens come
from ``SLACK_BOT_TOKEN``, ``SLACK_APP_TOKEN`` and ``SLACK_SIGNING_SECRET`` and are never
logged.

The lookup, pacing, plain-text fallback and error mapping around each send are
``bot.platforms.shared.ChatAdapter``'s; this module says how to post with slack-bolt
and what each of its errors means.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import pictures
from bot.commands import alert_buttons, dispatch, press
from bot.commands.buttons import BUTTON_KINDS
from bot.commands.types import Invocation, Press, Reply
from bot.model import Destination, OutgoingMessage, SendResult, SendStatus
from bot.pacing import Pacer
from bot.platforms.shared import ChatAdapter, TextPart, parse_command, pressed_alert
from bot.platforms.slack.render import (
    LIMITS,
    slack_blocks,
    slack_escape,
    slack_text,
    slack_url,
    with_buttons,
)
from bot.platforms.slack.settings import SlackSettings
from bot.runtime import Runtime

log = logging.getLogger("dozor.slack")

COMMAND = "/dozor"
EVENTS_PATH = "/slack/events"
BUTTON_ACTIONS = re.compile(rf"^({'|'.join(BUTTON_KINDS)}):")  # every button's action_id
BROKEN_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_authed",
        "missing_scope",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "team_access_not_granted",
        "ekm_access_denied",
        "no_permission",
    }
)
RETRY_ERRORS = frozenset(
    {"ratelimited", "fatal_error", "internal_error", "request_timeout", "service_unavailable"}
)
REFUSED_CONTENT = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_too_long"})
NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, SlackClientError)
_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def unslack(text: str) -> str:
    """What the user typed, from Slack's encoding of it: ``<https://x|x>`` -> the URL,
    ``<#C1|desk>`` -> ``#desk``, ``<@U1>`` -> ``@U1``; entities decoded."""

    def plain(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith(("@", "#")):
            return target[0] + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        if target.startswith("mailto:"):
            return label or target[len("mailto:") :]
        return target

    text = _MARKUP.sub(plain, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class SlackAdapter(ChatAdapter):
    kind = "slack"
    title = "Slack"
    chat_noun = "channel"
    markup = "blocks"
    limits = LIMITS
    errors = (SlackApiError, *NETWORK_ERRORS)

    def __init__(
        self,
        bot_token: str,
        app_token: str | None,
        signing_secret: str | None,
        settings: SlackSettings,
        context: Runtime,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        http = settings.mode == "http"
        if http and not signing_secret:
            raise ValueError("Slack HTTP mode needs SLACK_SIGNING_SECRET")
        if not http and not app_token:
            raise ValueError("Slack Socket Mode needs SLACK_APP_TOKEN")
        self.settings = settings
        self.context = context
        self.app_token = app_token
        self.client = AsyncWebClient(bot_token, base_url=settings.api_base_url)
        self.app = AsyncApp(
            name="dozor.slack.bolt",  # bolt sets its logger's level: not our "dozor" one
            client=self.client,
            signing_secret=signing_secret or "",
            request_verification_enabled=http,
            url_verification_enabled=http,
            ssl_check_enabled=http,
        )
        self.app.command(COMMAND)(self._on_slash)
        self.app.event("app_mention")(self._on_mention)
        self.app.action(BUTTON_ACTIONS)(self._on_press)
        self.app.error(self._on_error)
        self.app.use(self._only_our_workspace)
        self.pacer = Pacer(settings.per_channel_interval.total_seconds(), clock=clock)
        self.bot_user_id: str | None = None
        self.team_id: str | None = None  # the installed workspace, from auth.test
        self.started = False
        self.listening = False
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._names: dict[str, str] = {}

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, *, listen: bool = True) -> None:
        """Check the token (auth.test); with ``listen``, also take commands and button
        presses over Socket Mode or on the HTTP endpoint."""
        auth = await self.client.auth_test()
        self.bot_user_id = auth.get("user_id")
        self.team_id = auth.get("team_id")
        self.started = True
        if not listen:
            return
        try:
            if self.settings.mode == "http":
                await self._serve_http()
            else:
                self._socket = AsyncSocketModeHandler(self.app, self.app_token)
                await self._socket.connect_async()
        except (OSError, SlackApiError, *NETWORK_ERRORS) as exc:  # alerts still go out
            log.error("Slack: cannot take commands (%s); alerts are still sent", _describe(exc))
            await self.stop()
            self.started = True
            return
        self.listening = True
        where = f"http://{self.settings.http_listen}{EVENTS_PATH}" if self._runner else "socket"
        log.info("Slack: connected as %s in %s (%s)", auth.get("user"), auth.get("team"), where)

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.listening = False
        self.started = False

    async def _serve_http(self) -> None:
        server = web.Application()
        server.router.add_post(EVENTS_PATH, self._on_http)
        self._runner = web.AppRunner(server, access_log=None)
        await self._runner.setup()
        host, _, port = self.settings.http_listen.rpartition(":")
        await web.TCPSite(self._runner, host, int(port)).start()

    async def _on_http(self, request: web.Request) -> web.Response:
        """Events, slash commands and interactivity; bolt verifies the signature and
        refuses stale timestamps (401) before any listener runs.  A timestamp that is
        not a number is refused here (bolt's int() would raise: a 500)."""
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "0")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return web.Response(status=401, text="invalid request timestamp")
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _only_our_workspace(
        self,
        context: AsyncBoltContext,
        req: AsyncBoltRequest,
        next: Callable[[], Awaitable[BoltResponse]],  # bolt passes it by this name
    ) -> BoltResponse:
        """Run listeners only for the workspace the token belongs to (auth.test's
        team_id): a request signed for this app but from another workspace it was
        installed in is refused, 403 over HTTP and acknowledged unread in Socket Mode (so
        Slack does not send it again)."""
        if self.team_id is not None and context.team_id == self.team_id:
            return await next()
        log.warning(
            "Slack: refused a request from workspace %s (this bot serves %s)",
            context.team_id,
            self.team_id,
        )
        return BoltResponse(status=200 if req.mode == "socket_mode" else 403, body="")

    # -- outbound: the skeleton is ChatAdapter's -------------------------------------------

    async def post_alert(self, d: Destination, message: OutgoingMessage) -> str:
        media = pictures.mode_for(message.alert, d, self.limits)
        blocks, fallback = slack_blocks(message.alert, message.note, media)
        buttons = alert_buttons(message.alert_id, message.alert)
        posted = await self._post(d, fallback, with_buttons(blocks, buttons))
        return str(posted["ts"])

    async def post_plain(self, d: Destination, message: OutgoingMessage) -> str:
        _, fallback = slack_blocks(message.alert, message.note)
        posted = await self._post(d, _plain(message, fallback), None)
        return str(posted["ts"])

    async def post_text(self, d: Destination, part: TextPart) -> str:
        blocks = None
        if part.buttons:
            text = {"type": "mrkdwn", "text": slack_escape(part.text)}
            blocks = with_buttons([{"type": "section", "text": text}], part.buttons)
        posted = await self._post(d, slack_escape(part.text), blocks, thread_ts=part.reply_to)
        return str(posted["ts"])

    async def _post(
        self,
        d: Destination,
        text: str,
        blocks: list[dict[str, Any]] | None,
        thread_ts: str | None = None,
    ) -> Any:
        return await self.client.chat_postMessage(
            channel=d.address,
            text=text,
            blocks=blocks,
            thread_ts=d.thread or thread_ts,  # a thread has no threads of its own
            unfurl_links=bool(d.option("unfurl")),
            unfurl_media=bool(d.option("unfurl")),
        )

    async def update_alert(self, d: Destination, message: OutgoingMessage) -> SendResult | None:
        media = pictures.mode_for(message.alert, d, self.limits)
        blocks, fallback = slack_blocks(message.alert, message.note, media)
        buttons = alert_buttons(message.alert_id, message.alert)
        await self.client.chat_update(
            channel=d.address,
            ts=message.remote_id,
            text=fallback,
            blocks=with_buttons(blocks, buttons),
        )
        return None

    def refused_markup(self, exc: BaseException) -> bool:
        return isinstance(exc, SlackApiError) and _error(exc) in REFUSED_CONTENT

    def describe(self, exc: BaseException) -> str:
        return _error(exc) if isinstance(exc, SlackApiError) else _describe(exc)

    def edit_failure(self, d: Destination, exc: BaseException) -> SendResult:
        gone = ("message_not_found", "cant_update_message", "edit_window_closed")
        if isinstance(exc, SlackApiError) and _error(exc) in gone:
            return SendResult(SendStatus.BROKEN, f"Slack: {_error(exc)}")
        return self.failure(d, exc)

    def failure(self, d: Destination, exc: BaseException) -> SendResult:
        if not isinstance(exc, SlackApiError):
            return _unreachable(exc)
        status = exc.response.status_code
        error = _error(exc)
        if status == 429 or error == "ratelimited":
            wait = _retry_after(exc)
            return SendResult(
                SendStatus.RETRY,
                f"Slack rate limit: retry after {wait:.0f} s",
                retry_after=timedelta(seconds=wait),
            )
        if error in BROKEN_ERRORS:
            return SendResult(SendStatus.BROKEN, f"Slack: {error}")
        if status >= 500 or error in RETRY_ERRORS:
            return SendResult(SendStatus.RETRY, f"Slack unavailable: HTTP {status} {error}".strip())
        return SendResult(SendStatus.BROKEN, f"Slack refused the message: {error or status}")

    # -- inbound -------------------------------------------------------------------------

    async def _on_slash(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        typed = parse_command(unslack(command.get("text") or ""))
        channel = str(command.get("channel_id") or "")
        user_id = str(command.get("user_id") or "")
        direct = channel.startswith("D") or command.get("channel_name") == "directmessage"
        invocation = Invocation(
            platform="slack",
            chat_id=channel,
            user_id=user_id,
            user_name=f"@{command['user_name']}" if command.get("user_name") else user_id,
            command=typed.name.lower() or "help",
            args=typed.args,
            chat_type="im" if direct else "channel",
        )
        reply = await dispatch(self.context, invocation)
        if not reply.text and reply.attachment is None:
            return  # e.g. a flood-limited user who was already told
        if reply.attachment is not None and not reply.ephemeral:
            await self._upload(channel, reply, None)
        if reply.text:
            blocks, fallback = slack_text(reply.text)
            await respond(
                text=fallback,
                blocks=with_buttons(blocks, reply.buttons),
                response_type="ephemeral" if reply.ephemeral else "in_channel",
            )

    async def _on_mention(self, ack: AsyncAck, event: dict[str, Any]) -> None:
        await ack()
        text = str(event.get("text") or "")
        me = f"<@{self.bot_user_id}" if self.bot_user_id else "<@"
        at = text.find(me)
        if at >= 0:  # what follows the bot's name: "<@UBOT> mute ria for 2h"
            text = _MENTION.sub("", text[at:], count=1)
        typed = parse_command(unslack(text))
        channel = str(event.get("channel") or "")
        user_id = str(event.get("user") or "")
        thread_ts = event.get("thread_ts") or event.get("ts")
        invocation = Invocation(
            platform="slack",
            chat_id=channel,
            user_id=user_id,
            user_name=await self._user_name(user_id),
            command=typed.name.lower() or "help",
            args=typed.args,
            chat_type="im" if channel.startswith("D") else "channel",
            slash=typed.slash or not typed.head,  # "@Dozor thanks!" is no command
            # in an alert's thread, "@Dozor mute" is a reply to that alert
            reply_to_message_id=thread_ts if thread_ts != event.get("ts") else None,
        )
        reply = await dispatch(self.context, invocation)
        if not reply.text and reply.attachment is None:
            return
        if reply.attachment is not None and not reply.ephemeral:
            await self._upload(channel, reply, thread_ts)
        if not reply.text:
            return
        blocks, fallback = slack_text(reply.text)
        blocks = with_buttons(blocks, reply.buttons)
        try:
            if reply.ephemeral:
                await self.client.chat_postEphemeral(
                    channel=channel, user=user_id, text=fallback, blocks=blocks, thread_ts=thread_ts
                )
            else:
                await self.client.chat_postMessage(
                    channel=channel, text=fallback, blocks=blocks, thread_ts=thread_ts
                )
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            log.error("Slack: cannot answer a mention in %s: %s", channel, _describe(exc))

    async def _on_press(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        container = body.get("container") or {}
        channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
        message_ts = str(container.get("message_ts") or (body.get("message") or {}).get("ts"))
        user = body.get("user") or {}
        user_id = str(user.get("id") or "")
        name = user.get("username") or user.get("name")
        outcome = await press(
            self.context,
            Press(
                platform="slack",
                chat_id=channel,
                user_id=user_id,
                user_name=f"@{name}" if name else user_id,
                message_id=message_ts,
                data=str(action.get("value") or action.get("action_id") or ""),
            ),
        )
        redraw = (
            await pressed_alert(self.context, self.kind, channel, message_ts, outcome.note)
            if outcome.note
            else None
        )
        if redraw is None:  # refused, stale, or not an alert of ours: tell only the presser
            await respond(
                text=slack_escape(outcome.notice), response_type="ephemeral", replace_original=False
            )
            return
        blocks, fallback = slack_blocks(redraw.alert, redraw.note)
        try:
            await self.client.chat_update(
                channel=channel,
                ts=message_ts,
                text=fallback,
                blocks=with_buttons(blocks, outcome.buttons),
            )
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            log.error("Slack: cannot redraw alert %s: %s", redraw.alert_id, _describe(exc))

    async def _upload(self, channel: str, reply: Reply, thread_ts: str | None) -> None:
        try:
            await self.client.files_upload_v2(
                channel=channel,
                file=reply.attachment,
                filename=reply.attachment_name,
                title=reply.attachment_name,
                thread_ts=thread_ts,
            )
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            log.warning(
                "Slack: cannot upload %s to %s: %s", reply.attachment_name, channel, _describe(exc)
            )

    async def _user_name(self, user_id: str) -> str:
        """``@name`` for a user id (users.info, remembered); the id if Slack won't say."""
        if user_id not in self._names:
            try:
                found = (await self.client.users_info(user=user_id)).get("user") or {}
                self._names[user_id] = f"@{found['name']}" if found.get("name") else user_id
            except (SlackApiError, *NETWORK_ERRORS):
                return user_id
        return self._names[user_id]

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack: handling a %s request failed: %r", body.get("type", "?"), error)


def _error(exc: SlackApiError) -> str:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    return str(data.get("error") or "")


def _retry_after(exc: SlackApiError) -> float:
    headers = {k.lower(): v for k, v in (exc.response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


def _unreachable(exc: BaseException) -> SendResult:
    return SendResult(SendStatus.RETRY, f"Slack unreachable: {_describe(exc)}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return f"HTTP {exc.response.status_code} {_error(exc)}".strip()
    return f"{type(exc).__name__}: {exc}"[:200]


def _plain(message: OutgoingMessage, fallback: str) -> str:
    link = message.alert.item.link
    if link and link.startswith(("http://", "https://")):
        return f"{fallback}\n<{slack_url(link)}|Open the post>"
    return fallback

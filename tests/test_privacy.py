"""Privacy between chats (bot/commands/permissions.py): a chat reads and acts on its own
alerts, rules and mutes only, whatever numbers or names its members type; admins may
name anything; Slack serves only the workspace the bot token belongs to.

Through the real adapters where the promise is theirs (python-telegram-bot against the
fake Bot API, slack-bolt against the fake Slack), else through ``tests/chatbot.py``."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.commands import alert_buttons
from bot.commands.buttons import STALE
from tests import test_slack_e2e as slack_e2e
from tests import test_telegram_e2e as telegram_e2e
from tests.chatbot import START, ChatBot
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import FakeSlack, sign
from tests.fakes.telegram_api import FakeTelegram, SentMessage
from tests.feeds import post, real_posts

DESK_CHAT = f"telegram:{ChatBot.DESK}"
OSINT_CHAT = f"telegram:{ChatBot.OSINT}"
NO_SUCH = "no such alert here"  # what a number gets that this chat may not read
MEMBER, ADMIN = 7, 1  # test_telegram_e2e's config: admins = [1]


def from_bbc(*exclude: int) -> list[dict]:
    return [
        p
        for p in real_posts()
        if p["sender_id"] == -1001003921752 and p["message_id"] not in exclude
    ]


# -- /show and /story, through Telegram ---------------------------------------------------


async def ask(tg: FakeTelegram, chat: int, text: str, user: int) -> SentMessage:
    """Type ``text`` in ``chat`` as ``user``; the bot's answer there."""
    before = len(tg.messages(chat))
    tg.push_command(chat, text, user_id=user, username=f"u{user}")
    for _ in range(500):
        if len(tg.messages(chat)) > before:
            return tg.messages(chat)[-1]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no answer to {text!r} in {chat}")


async def test_a_member_of_another_chat_walking_the_alert_numbers_reads_nothing(
    tmp_path: Path,
) -> None:
    """Alerts go to the desk only; a member of the other desk's chat walks /show and
    /story over every number: each answer is the one a missing number gets."""
    desk, other = telegram_e2e.DESK, telegram_e2e.OTHER
    extra = '[routes]\ndefault = ["desk"]'
    async with FakeTelegram(token=telegram_e2e.TOKEN) as tg, FeedServer() as feeds:
        path = telegram_e2e.write_config(tmp_path, tg, feeds, extra)
        async with telegram_e2e.app_for(path) as app:
            await app.connect(listen=True)
            extras = (post(271457), post(194289), post(73307))
            await telegram_e2e.first_poll_then(app, feeds, *extras)
            count = await app.outbox.deliver_due()
            alerts = tg.messages(desk)
            assert count == len(alerts) >= 2 and tg.messages(other) == []

            missing = (await ask(tg, other, "/show 999", MEMBER)).text
            walked = []
            for n in range(1, count + 2):  # every alert, and the next number (none yet)
                walked.append((await ask(tg, other, f"/show {n}", MEMBER)).text)
                walked.append((await ask(tg, other, f"/story #{n}", MEMBER)).text)
            admin_there = (await ask(tg, other, "/show 1", ADMIN)).text
            in_desk = (await ask(tg, desk, "/show 1", MEMBER)).text
            story_in_desk = (await ask(tg, desk, "/story 1", MEMBER)).text
            first = app.store.alert(1)

    assert missing == NO_SUCH
    assert walked == [missing] * len(walked)  # not a title, link, rule: not even "exists"
    assert first is not None and first.alert.item.link
    for text in (admin_there, in_desk):  # an admin anywhere; the chat it went to
        assert text.startswith("Alert #1 (sent), rules: ")
        assert f"Link: {first.alert.item.link}" in text
    assert story_in_desk.startswith("Story of alert #1: first ria")


async def test_each_chat_reads_its_own_alert_of_one_item(testbot: ChatBot) -> None:
    """One item alerts both desks: two alerts, each readable in its own chat only, by
    number and as a reply; a suppressed (muted) alert is as missing as any."""
    await testbot.command("/watch Гвине*", chat=testbot.DESK)
    await testbot.command("/watch Гвине*", chat=testbot.OSINT)
    testbot.poll("bbc", from_bbc(73628))
    testbot.poll("bbc", from_bbc())
    [desk], [osint] = testbot.pending("desk"), testbot.pending("osint")
    testbot.store.mark_sent(desk.alert_id, START, remote_id="5001")
    testbot.store.mark_sent(osint.alert_id, START, remote_id="6001")

    async def show(line: str, chat: int, **kw: object) -> str:
        return (await testbot.command(line, chat=chat, **kw)).text  # type: ignore[arg-type]

    assert (await show(f"/show {desk.alert_id}", testbot.DESK)).startswith(
        f"Alert #{desk.alert_id}"
    )
    assert (await show(f"/show {osint.alert_id}", testbot.OSINT)).startswith(
        f"Alert #{osint.alert_id}"
    )
    assert await show(f"/show {osint.alert_id}", testbot.DESK) == NO_SUCH
    assert await show(f"/story {desk.alert_id}", testbot.OSINT) == NO_SUCH
    assert await show(f"/show {desk.alert_id}", testbot.EXTRA) == NO_SUCH  # served, no alerts
    # as a reply: only this chat's alert messages count
    assert (await show("/show", testbot.DESK, reply_to="5001")).startswith("Alert #")
    assert (await show("/show", testbot.DESK, reply_to="6001")).startswith("usage: /show")
    # the console is the operator: it reads both
    assert (await show(f"/show {osint.alert_id}", None)).startswith("Alert #")


# -- rules and mutes ------------------------------------------------------------------------

# What a member of the osint desk may type about rules; the answers must not change when
# the desk's rule watch-siri exists or not (nor name it, nor show its terms)
PROBES = (
    "/rules",
    "/unwatch watch-siri",
    "/mute watch-siri",
    "/mute rule watch-siri for 1h",
    "/mute watch-sir",  # a typo: "did you mean" must not offer another chat's rule
    "/unmute watch-siri",
    "/unwatch watch-sir",
)


async def test_another_chats_rules_are_not_listed_named_or_suggested(testbot: ChatBot) -> None:
    made = await testbot.command("/watch Сирийск* армия", chat=testbot.DESK)
    assert made.text.startswith("Watching as watch-siriysk-armiya:")
    await testbot.command("/watch Сири*", chat=testbot.DESK)

    async def probe() -> list[str]:
        return [(await testbot.command(line, chat=testbot.OSINT)).text for line in PROBES]

    with_rule = await probe()
    assert [c.rule.name for c in testbot.store.chat_rules()] == [
        "watch-siriysk-armiya",
        "watch-siri",
    ]
    assert testbot.store.active_mutes(testbot.clock()) == []  # nothing was muted there
    for answer in with_rule:
        assert "Сири" not in answer and "watch-siriysk" not in answer
    listing = with_rule[0]
    assert "Rules from files (0):" in listing and "wagner" not in listing  # not routed there
    assert "Rules that alert only other chats are not listed here." in listing

    # the desk sees its own, with their terms; an admin's private chat sees every chat's
    desk = (await testbot.command("/rules", chat=testbot.DESK)).text
    assert "- watch-siri (this chat, by @u42): all of: Сири*" in desk
    assert "- wagner (" in desk and "Rules from files (2):" in desk
    overview = (await testbot.command("/rules", chat=testbot.ADMIN, user=testbot.ADMIN)).text
    assert f"- watch-siri (in {DESK_CHAT}, by @u42): all of: Сири*" in overview
    assert "Rules from files (10):" in overview and "not listed here" not in overview
    in_group = await testbot.command("/rules", chat=testbot.OSINT, user=testbot.ADMIN)
    assert in_group.text == listing  # a group reads the answer: the group's view

    # once the rules are gone, the osint desk gets the very same answers
    for name in ("watch-siri", "watch-siriysk-armiya"):
        await testbot.command(f"/unwatch {name}", chat=testbot.DESK)
    assert await probe() == with_rule


async def test_a_chat_names_its_file_rules_and_not_the_others(testbot: ChatBot) -> None:
    """wagner and deir-ez-zor alert the desk (tests/chatbot.py routes them there): the
    desk may mute them; the osint desk, which they never alert, cannot name them."""
    assert (await testbot.command("/mute wagner", chat=testbot.DESK)).text.startswith(
        "🔇 muted rule wagner in this chat"
    )
    refused = (await testbot.command("/mute wagner", chat=testbot.OSINT)).text
    assert refused.startswith("no source or rule named wagner")
    assert "syria" not in (await testbot.command("/mute syri", chat=testbot.OSINT)).text
    file_rule = (await testbot.command("/unwatch deir-ez-zor", chat=testbot.DESK)).text
    assert file_rule.startswith("rule deir-ez-zor comes from ")
    not_here = (await testbot.command("/unwatch syria-fighting-ru", chat=testbot.DESK)).text
    assert not_here.startswith("no rule named syria-fighting-ru;")
    admin = await testbot.command("/mute syria-fighting-ru", chat=testbot.OSINT, user=ADMIN)
    assert admin.text.startswith("🔇 muted rule syria-fighting-ru in this chat")
    assert {(m.chat, m.target) for m in testbot.store.active_mutes(testbot.clock())} == {
        (DESK_CHAT, "wagner"),
        (OSINT_CHAT, "syria-fighting-ru"),
    }


# -- buttons --------------------------------------------------------------------------------


async def test_buttons_act_only_on_this_chats_alerts_and_mutes(testbot: ChatBot) -> None:
    await testbot.command("/watch Гвине*", chat=testbot.DESK)
    await testbot.command("/watch Гвине*", chat=testbot.OSINT)
    testbot.poll("bbc", from_bbc(73628))
    testbot.poll("bbc", from_bbc())
    [desk], [osint] = testbot.pending("desk"), testbot.pending("osint")

    muted = await testbot.press(f"ms:{osint.alert_id}", chat=testbot.OSINT)
    [undo] = muted.buttons
    mute_id = undo.data.split(":")[1]
    # an Undo naming the desk's alert (with the osint desk's own mute): nothing undone,
    # and no buttons of the desk's alert (they name its rules)
    forged = await testbot.press(f"un:{mute_id}:{desk.alert_id}", chat=testbot.OSINT)
    assert forged == STALE
    assert [m.chat for m in testbot.store.active_mutes(START)] == [OSINT_CHAT]
    # the desk's alert buttons pressed in the osint chat, by anyone: stale, nothing muted
    for user in (testbot.MEMBER, testbot.ADMIN):
        for button in alert_buttons(desk.alert_id, desk.alert):
            assert await testbot.press(button.data, chat=testbot.OSINT, user=user) == STALE
    assert [m.chat for m in testbot.store.active_mutes(START)] == [OSINT_CHAT]
    # its own Undo still works
    undone = await testbot.press(undo.data, chat=testbot.OSINT)
    assert undone.note == "🔊 @u42 undid the mute" and testbot.store.active_mutes(START) == []


# -- listings that count alerts or name chats -------------------------------------------------


async def test_stats_sources_and_status_show_this_chats_part(testbot: ChatBot) -> None:
    await testbot.command("/watch Гвине*", chat=testbot.DESK)
    testbot.poll("bbc", from_bbc(73628))
    testbot.poll("bbc", from_bbc())  # one alert, to the desk, by watch-gvine
    testbot.store.mark_destination_broken("desk", "403 Forbidden: bot was kicked", START)

    async def run(line: str, chat: int, user: int = ChatBot.MEMBER) -> str:
        return (await testbot.command(line, chat=chat, user=user)).text

    assert "watch-gvine" in await run("/stats", testbot.DESK)
    elsewhere = await run("/stats", testbot.OSINT)
    assert "watch-gvine" not in elsewhere and elsewhere.startswith("Alerts in the last 7 days: 0")
    assert "watch-gvine" in await run("/stats", testbot.ADMIN, testbot.ADMIN)

    assert "- bbc (config): " in (sources := await run("/sources", testbot.OSINT))
    assert "0 alerts in 24h" in sources.split("- bbc (config): ")[1].splitlines()[0]
    desk_sources = await run("/sources", testbot.DESK)
    assert "1 alert in 24h" in desk_sources.split("- bbc (config): ")[1].splitlines()[0]

    status = await run("/status", testbot.OSINT)
    assert "desk" not in status.replace("Broken destinations", "") and "kicked" not in status
    assert "Broken destinations of other chats: 1" in status
    assert "- desk: 403 Forbidden: bot was kicked" in await run("/status", testbot.DESK)
    every = await run("/status", testbot.ADMIN, testbot.ADMIN)
    assert "- desk: 403 Forbidden: bot was kicked" in every and "other chats" not in every


# -- Slack: only the installed workspace ------------------------------------------------------

FOREIGN = "T0STRANGER"


@pytest.fixture
async def slack_servers() -> AsyncIterator[tuple[FakeSlack, FeedServer]]:
    async with (
        FakeSlack(bot_token=slack_e2e.BOT_TOKEN, app_token=slack_e2e.APP_TOKEN) as slack,
        FeedServer() as feeds,
    ):
        yield slack, feeds


async def test_slack_socket_mode_refuses_another_workspace(
    tmp_path: Path,
    slack_servers: tuple[FakeSlack, FeedServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A slash command, a mention and a button press from a workspace other than the
    token's are acknowledged (Slack would resend them otherwise) and never acted on."""
    slack, feeds = slack_servers
    desk = slack_e2e.DESK
    async with slack_e2e.app_for(slack_e2e.write_config(tmp_path, slack, feeds)) as app:
        await app.connect(listen=True)
        await slack.wait_connected()
        command = slack.slash_command_payload(
            text="watch Вагнер", user_id=slack_e2e.BOSS, channel_id=desk
        )
        mention = slack.event_callback(
            slack.app_mention_event("<@UBOT> mute ria for 2h", user="U0ANNA", channel=desk)
        )
        press = slack.block_action_payload("ms:1", "ms:1", channel_id=desk)
        command["team_id"] = mention["team_id"] = FOREIGN
        mention["authorizations"][0]["team_id"] = FOREIGN
        press["team"]["id"] = press["user"]["team_id"] = FOREIGN
        foreign = [
            await slack.push_envelope("slash_commands", command, accepts_response_payload=True),
            await slack.push_envelope("events_api", mention, retry_attempt=0, retry_reason=""),
            await slack.push_envelope("interactive", press),
        ]
        for envelope in foreign:
            assert (await slack.wait_ack(envelope)).payload is None
        # the bot's own workspace is still served, and answers only that
        await slack.push_slash_command(text="mutes", user_id="U0ANNA", channel_id=desk)
        await slack.wait_for("response_url")
        await asyncio.sleep(0.2)  # room for anything a foreign request might have started
        assert [r.payload["text"] for r in slack.responses] == ["nothing is muted in this chat"]
        assert app.store.chat_rules() == [] and app.store.active_mutes(app.clock()) == []
        assert [m.text for m in slack.messages(desk)] == ["nothing is muted in this chat"]
        assert slack.ephemeral(desk) == []
    refusals = [r for r in caplog.records if "refused a request from workspace" in r.message]
    assert len(refusals) == 3 and all(FOREIGN in r.message for r in refusals)


async def test_slack_http_mode_refuses_a_signed_request_of_another_workspace(
    tmp_path: Path, slack_servers: tuple[FakeSlack, FeedServer]
) -> None:
    slack, feeds = slack_servers
    port = slack_e2e.free_port()
    extra = f'mode = "http"\nhttp_listen = "127.0.0.1:{port}"'
    path = slack_e2e.write_config(tmp_path, slack, feeds, extra)
    env = {"SLACK_BOT_TOKEN": slack_e2e.BOT_TOKEN, "SLACK_SIGNING_SECRET": slack_e2e.SECRET}
    form = "application/x-www-form-urlencoded"
    url = f"http://127.0.0.1:{port}/slack/events"
    async with slack_e2e.app_for(path, **env) as app, aiohttp.ClientSession() as http:
        await app.connect(listen=True)

        async def post_signed(body: str, content_type: str = form) -> int:
            headers = sign(
                body.encode(), slack_e2e.SECRET, int(time.time()), content_type=content_type
            )
            async with http.post(url, data=body.encode(), headers=headers) as response:
                return response.status

        command = slack.slash_command_payload(
            text="watch Вагнер", user_id=slack_e2e.BOSS, channel_id=slack_e2e.DESK
        )
        ours = dict(command, text="watch курдских")
        command["team_id"] = FOREIGN
        mention = slack.event_callback(
            slack.app_mention_event("<@UBOT> mute ria", user="U0ANNA", channel=slack_e2e.DESK)
        )
        mention["team_id"] = mention["authorizations"][0]["team_id"] = FOREIGN
        assert await post_signed(urlencode(command)) == 403
        assert await post_signed(json.dumps(mention), "application/json") == 403
        assert app.store.chat_rules() == [] and slack.responses == []
        assert app.store.active_mutes(app.clock()) == []

        assert await post_signed(urlencode(ours)) == 200  # the installed workspace
        await slack.wait_for("response_url")
        assert [c.rule.name for c in app.store.chat_rules()] == ["watch-kurdskikh"]

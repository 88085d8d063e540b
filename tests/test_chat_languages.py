"""A chat narrows the languages of the rules it adds (issue 18): ``/languages`` in the
chat (kept in the store) or ``languages`` on its ``[[destinations]]`` entry; ``/watch``
and ``/test`` there take them unless ``--ru``/``--uk`` says otherwise, and rules made
before keep theirs.  Driven through the whole bot (tests/chatbot.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from tests.chatbot import ChatBot

BBC = -1001003921752  # the sender id the fixture's BBC posts carry
RUSSIAN = "Приватной компании не удалось вывезти людей из Хартума."
UKRAINIAN = "Бійці приватної військової компанії залишили позиції під Бахмутом."
NEITHER = "Погода в Хартуме: жара до сорока градусов."


def posts(*texts: str, first: int = 1) -> list[dict]:
    return [
        {
            "message_id": first + i,
            "sender_id": BBC,
            "text": text,
            "date": f"2024-12-03T08:{10 + i:02d}:00+00:00",
            "link": f"https://t.me/bbcrussian/{first + i}",
        }
        for i, text in enumerate(texts)
    ]


def alerted(bot: ChatBot, destination: str) -> list[str]:
    """The texts of the items alerted to ``destination`` by chat rules."""
    return sorted(
        m.alert.item.text
        for m in bot.pending(destination)
        if any(match.rule.startswith("watch-") for match in m.alert.matches)
    )


async def test_a_ukrainian_chat_adds_rules_that_match_ukrainian_forms_only(
    testbot: ChatBot,
) -> None:
    before = await testbot.command("/languages", chat=testbot.DESK)
    assert "Russian and Ukrainian (ru uk)" in before.text, before.text
    reply = await testbot.command("/languages uk", chat=testbot.DESK)
    assert reply.text.startswith("This chat's languages are now Ukrainian only (uk)"), reply.text
    assert "applies to rules you add from now on" in reply.text
    assert "0 existing rules keep theirs" in reply.text

    desk = await testbot.command("/watch приватна", chat=testbot.DESK)
    assert desk.text.startswith("Watching as watch-privatna"), desk.text
    assert "options: uk" in desk.text
    osint = await testbot.command("/watch приватна", chat=testbot.OSINT)  # another chat
    assert "options" not in osint.text, osint.text
    rules = {c.destination: c.rule.languages for c in testbot.store.chat_rules()}
    assert rules == {"desk": ("uk",), "osint": ("ru", "uk")}

    testbot.poll("bbc", posts(NEITHER, first=900))  # the first poll is a baseline
    testbot.poll("bbc", posts(RUSSIAN, UKRAINIAN, first=1))
    assert alerted(testbot, "desk") == [UKRAINIAN]  # not "Приватной"
    assert alerted(testbot, "osint") == sorted([RUSSIAN, UKRAINIAN])


async def test_test_takes_the_chats_languages_and_an_option_wins(testbot: ChatBot) -> None:
    testbot.seed(posts(RUSSIAN, UKRAINIAN))
    await testbot.command("/languages uk", chat=testbot.DESK)
    here = await testbot.command("/test приватна", chat=testbot.DESK)
    assert "1 of 2 stored items" in here.text and "matched: приватної" in here.text, here.text
    russian = await testbot.command("/test приватна --ru", chat=testbot.DESK)
    assert "matched: Приватной" in russian.text and "приватної" not in russian.text
    both = await testbot.command("/test приватна --ru --uk", chat=testbot.DESK)
    assert "2 of 2 stored items" in both.text
    elsewhere = await testbot.command("/test приватна", chat=testbot.OSINT)
    assert "2 of 2 stored items" in elsewhere.text, elsewhere.text
    explicit = await testbot.command("/watch приватна --ru", chat=testbot.DESK)
    assert "options: ru" in explicit.text, explicit.text


async def test_the_setting_survives_a_restart_and_rules_made_before_keep_theirs(
    testbot: ChatBot,
) -> None:
    await testbot.command("/watch приватна", chat=testbot.DESK)
    reply = await testbot.command("/languages ru", chat=testbot.DESK)
    assert "Russian only (ru)" in reply.text and "1 existing rule keeps its" in reply.text
    await testbot.restart()
    again = await testbot.command("/languages", chat=testbot.DESK)
    assert "Russian only (ru)" in again.text, again.text
    await testbot.command("/watch військова", chat=testbot.DESK)
    made = {c.rule.name: c.rule.languages for c in testbot.store.chat_rules()}
    assert made == {"watch-privatna": ("ru", "uk"), "watch-viyskova": ("ru",)}
    both = await testbot.command("/languages ru, uk", chat=testbot.DESK)
    assert "Russian and Ukrainian (ru uk)" in both.text and "2 existing rules" in both.text


@pytest.mark.parametrize("args", ["en", "ru ua", ","])
async def test_a_bad_value_is_answered_with_the_usage(testbot: ChatBot, args: str) -> None:
    reply = await testbot.command(f"/languages {args}", chat=testbot.DESK)
    assert reply.text.startswith("usage: /languages [ru] [uk]\n"), reply.text
    assert "is not a language Dozor inflects: ru, uk or both" in reply.text
    shown = await testbot.command("/languages", chat=testbot.DESK)
    assert "Russian and Ukrainian" in shown.text  # nothing was set


async def test_only_admins_set_it_where_members_may_not_watch(testbot: ChatBot) -> None:
    await testbot.restart(telegram="[telegram]\nadmins = [1]\nmembers_can_watch = false\n")
    refused = await testbot.command("/languages uk", chat=testbot.DESK)
    assert refused.ephemeral and refused.text == (
        "only admins may set this chat's languages here ([telegram] members_can_watch is false)"
    )
    seen = await testbot.command("/languages", chat=testbot.DESK)  # reading is for members
    assert "Russian and Ukrainian" in seen.text, seen.text
    unserved = await testbot.command("/languages uk", chat=testbot.UNSERVED)
    assert "not one Dozor serves" in unserved.text
    ok = await testbot.command("/languages uk", chat=testbot.DESK, user=testbot.ADMIN)
    assert ok.text.startswith("This chat's languages are now Ukrainian only"), ok.text


def _with_osint_languages(bot: ChatBot, value: str) -> Path:
    path = bot.tmp_path / "config.toml"
    text = path.read_text("utf-8")
    line = f"chat_id = {bot.OSINT}\n"
    path.write_text(text.replace(line, f"{line}languages = {value}\n"), "utf-8")
    return path


async def test_a_destinations_config_languages_apply_until_the_chat_sets_its_own(
    tmp_path: Path,
) -> None:
    bot = ChatBot(tmp_path)
    bot.settings = load_config(_with_osint_languages(bot, '["ru"]'))
    await bot.start()
    try:
        assert next(d for d in bot.ctx.destinations() if d.name == "osint").languages == ("ru",)
        shown = await bot.command("/languages", chat=bot.OSINT)
        first = await bot.command("/watch приватна", chat=bot.OSINT)
        desk = await bot.command("/watch приватна", chat=bot.DESK)
        await bot.command("/languages uk", chat=bot.OSINT)
        second = await bot.command("/watch військова", chat=bot.OSINT)
    finally:
        await bot.stop()
    assert "Russian only (ru)" in shown.text, shown.text
    assert "options: ru" in first.text and "options" not in desk.text
    assert "options: uk" in second.text, second.text


@pytest.mark.parametrize(
    ("value", "got"), [('["ua"]', '"ua"'), ("[]", "an empty list"), ('"ru"', "")]
)
def test_a_bad_destination_languages_is_a_located_error(
    tmp_path: Path, value: str, got: str
) -> None:
    path = _with_osint_languages(ChatBot(tmp_path), value)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    [problem] = info.value.problems
    if got:
        assert problem == (
            f'destinations[2].languages: takes "ru", "uk" or both (["ru", "uk"]), got {got}'
        )
    else:
        assert problem == 'destinations[2].languages: expected a list like ["ru"], got "ru"'

"""Slack Block Kit for alerts and replies: whatever a feed contains, Slack accepts the
blocks (the fake's validator, which checks Slack's limits), user text is escaped, and
the matched words are bold."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import alert_buttons
from bot.model import Alert, Item, Match, Span
from bot.platforms.slack.adapter import unslack
from bot.platforms.slack.render import (
    SLACK_FALLBACK_LIMIT,
    SLACK_SECTION_LIMIT,
    actions_block,
    slack_blocks,
    slack_text,
    with_buttons,
)
from tests.fakes.slack_api import MAX_MESSAGE_TEXT, block_errors
from tests.feeds import post

CHUNK = st.text(
    alphabet=st.sampled_from(list("<>&|*_~`\"';/=ab ЖжёЁ-—\n\t😀🇷🇺\u200d\u0301\ud800:"))
    | st.characters(),
    max_size=400,
)
URLS = st.sampled_from(["https://t.me/rian_ru/1", " http://x.org/a_b*c?d=1&e=<2>|", "&amp;"])
NASTY = st.lists(CHUNK | URLS, max_size=15).map("".join)
LINK = re.compile(r"<https?://[^<>|\s]+(?:\|[^<>|]+)?>")
ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def alert_for(
    title: str, text: str, link: str | None, source: str, spans: list[Span], rule: str = "wagner"
) -> Alert:
    item = Item(source, "k", "s", title, text, link, datetime(2024, 12, 3, 7, 8, tzinfo=UTC))
    return Alert("desk", item, (Match(rule, ("Вагнер*", "<b>"), tuple(spans)),), "s")


def mrkdwn_texts(blocks: list[dict]) -> list[str]:
    texts = []
    for block in blocks:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts.extend(e["text"] for e in block["elements"])
    return texts


def assert_escaped(text: str) -> None:
    outside = LINK.sub("", text)
    assert "<" not in outside and ">" not in outside, text
    assert not ENTITY.search(text), text
    text.encode("utf-8")  # no lone surrogate survives


@settings(max_examples=300, deadline=None)
@given(
    title=NASTY,
    text=NASTY,
    link=st.none() | NASTY.map(lambda s: "https://t.me/x?q=" + s) | NASTY,
    source=NASTY,
    raw_spans=st.lists(st.tuples(st.booleans(), st.integers(0, 6000), st.integers(1, 4000))),
    note=st.none() | NASTY,
    rule=NASTY,
)
def test_any_alert_gives_blocks_slack_accepts_and_a_fallback_within_limits(
    title: str,
    text: str,
    link: str | None,
    source: str,
    raw_spans: list[tuple[bool, int, int]],
    note: str | None,
    rule: str,
) -> None:
    spans = []
    for in_title, start, size in raw_spans:
        field, value = ("title", title) if in_title else ("text", text)
        if start < len(value):
            spans.append(Span(field, start, min(len(value), start + size), "t"))
    alert = alert_for(title, text, link, source, spans, rule)
    blocks, fallback = slack_blocks(alert, note)
    blocks = with_buttons(blocks, alert_buttons(7, alert))
    assert block_errors(blocks) == []
    assert len(blocks) <= 50 and blocks[-1]["type"] == "actions"
    for mrkdwn in mrkdwn_texts(blocks):
        assert mrkdwn.strip() and len(mrkdwn) <= SLACK_SECTION_LIMIT
        assert_escaped(mrkdwn)
    assert 0 < len(fallback) <= min(SLACK_FALLBACK_LIMIT, MAX_MESSAGE_TEXT)
    assert_escaped(fallback)


def test_real_post_renders_with_the_matched_word_bold_and_a_link() -> None:
    p = post(271457)
    text = p["text"]
    start = text.index("Дейр-эз-Зор")
    alert = alert_for(
        "Сирийская армия отразила атаки",
        text,
        p["link"],
        "ria",
        [Span("text", start, start + 11, "Дейр-эз-Зор*")],
    )
    blocks, fallback = slack_blocks(alert, note="🔇 @anna muted source ria until 15:00 UTC")
    head, title, body, footer, note = blocks
    assert head["text"]["text"] == "🔔 *wagner (Дейр-эз-Зор)*\n📰 ria"  # the post's words
    assert title["text"]["text"] == "Сирийская армия отразила атаки"
    assert "провинции *Дейр-эз-Зор*" in body["text"]["text"]
    assert footer["elements"][0]["text"] == (
        "🕒 2024-12-03 07:08 UTC · <https://t.me/rian_ru/271457|Open the post>"
    )
    assert note["text"]["text"] == "🔇 @anna muted source ria until 15:00 UTC"
    assert fallback == "wagner (Дейр-эз-Зор) · ria: Сирийская армия отразила атаки"


def test_formatting_characters_in_feed_text_never_toggle_bold_or_italics() -> None:
    text = "*СРОЧНО* ЧВК snake_case ~x~ `code` & <b>Вагнер</b> https://t.me/rian_ru/1_2."
    start = text.index("Вагнер")
    alert = alert_for(
        "_title_", text, "https://x.org/a|b c", "s", [Span("text", start, start + 6, "t")]
    )
    blocks, _ = slack_blocks(alert)
    body = blocks[2]["text"]["text"]
    assert body == (
        "∗СРОЧНО∗ ЧВК snakeˍcase ∼x∼ ˋcodeˋ &amp; &lt;b&gt;*Вагнер*&lt;/b&gt; "
        "<https://t.me/rian_ru/1_2>."
    )
    assert blocks[1]["text"]["text"] == "ˍtitleˍ"
    assert "<https://x.org/a%7Cb%20c|Open the post>" in blocks[3]["elements"][0]["text"]
    cyrillic = slack_blocks(
        alert_for("t", "см. https://ru.wikipedia.org/wiki/Сирия", None, "s", [])
    )
    assert cyrillic[0][2]["text"]["text"] == (
        "см. <https://ru.wikipedia.org/wiki/%D0%A1%D0%B8%D1%80%D0%B8%D1%8F"
        "|https://ru.wikipedia.org/wiki/Сирия>"
    )


def test_marked_words_keep_their_asterisks_against_the_word() -> None:
    alert = alert_for("a  Вагнер  b", "", None, "s", [Span("title", 1, 10, "t")])
    blocks, _ = slack_blocks(alert)
    assert blocks[1]["text"]["text"] == "a  *Вагнер*  b"


def test_a_huge_post_is_narrowed_to_fit_a_section() -> None:
    text = ("Бойцы ЧВК Вагнера <погибли> & ранены " * 3000).strip()
    spans = [Span("text", i, i + 3, "ЧВК") for i in range(6, len(text), 37)][:2000]
    blocks, fallback = slack_blocks(
        alert_for("x" * 5000, text, "https://t.me/a/1", "s" * 500, spans)
    )
    assert block_errors(blocks) == []
    body = blocks[2]["text"]["text"]
    assert "*ЧВК*" in body and "&lt;погибли&gt; &amp;" in body
    assert len(fallback) <= SLACK_FALLBACK_LIMIT


def test_long_replies_are_split_into_sections_at_line_breaks() -> None:
    lines = [f"- source{i}: ok, 3 alerts in 24 h <{'&' * (i % 7)}>" for i in range(400)]
    blocks, fallback = slack_text("\n".join(lines), reserve=1)
    assert block_errors(blocks) == [] and len(blocks) <= 49
    joined = "\n".join(b["text"]["text"] for b in blocks)
    assert joined.startswith("- source0: ok, 3 alerts in 24 h &lt;&gt;\n- source1:")
    assert all(len(b["text"]["text"]) <= SLACK_SECTION_LIMIT for b in blocks)
    assert 0 < len(fallback) <= SLACK_FALLBACK_LIMIT
    assert slack_text("")[0] == [] and slack_text("")[1] == "…"


def test_buttons_become_one_actions_block() -> None:
    alert = alert_for("t", "x", None, "s", [])
    block = actions_block(alert_buttons(12, alert))
    assert block is not None
    assert [(e["text"]["text"], e["action_id"], e["value"]) for e in block["elements"]] == [
        ("Mute source 6h", "ms:12", "ms:12"),
        ("Mute rule 6h", "mr:12:0", "mr:12:0"),
    ]
    assert actions_block(()) is None


def test_unslack_gives_back_what_the_user_typed() -> None:
    assert unslack("addsource <https://ria.ru/export/rss2/index.xml|ria.ru/export>") == (
        "addsource https://ria.ru/export/rss2/index.xml"
    )
    assert unslack("watch &lt;Вагнер&gt; &amp; ЧВК") == "watch <Вагнер> & ЧВК"
    assert unslack("mute <#C0123|desk> <@U1> <!here>") == "mute #desk @U1 @here"
    assert unslack("<mailto:a@b.org|a@b.org>") == "a@b.org"

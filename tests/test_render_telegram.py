"""Telegram HTML for alerts: whatever a feed contains, the message parses and fits."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model import Alert, Item, Match, Span
from bot.platforms.telegram.render import TELEGRAM_LIMIT, telegram_html, utf16_len
from tests.fakes.telegram_api import parse_html
from tests.feeds import post

NASTY = st.text(
    alphabet=st.sampled_from(list("<>&\"';/=ab ЖжёЁ-—\n\t😀🇷🇺\u200d\u0301\ud800"))
    | st.characters(),
    max_size=6000,
)


def alert_for(
    title: str,
    text: str,
    link: str | None,
    source: str,
    spans: list[Span],
    severity: str = "normal",
) -> Alert:
    item = Item(source, "k", "s", title, text, link, datetime(2024, 12, 3, 7, 8, tzinfo=UTC))
    matches = (Match("wagner", ("Вагнер*", "<b>"), tuple(spans)),)
    return Alert("desk", item, matches, "s", severity=severity)


@settings(max_examples=300, deadline=None)
@given(
    title=NASTY,
    text=NASTY,
    link=st.none() | NASTY.map(lambda s: "https://t.me/x?q=" + s),
    source=NASTY,
    raw_spans=st.lists(st.tuples(st.booleans(), st.integers(0, 6000), st.integers(1, 50))),
    note=st.none() | NASTY,
    severity=st.sampled_from(["low", "normal", "high", "urgent"]),
)
def test_any_alert_renders_to_valid_telegram_html_within_the_limit(
    title: str,
    text: str,
    link: str | None,
    source: str,
    raw_spans: list[tuple[bool, int, int]],
    note: str | None,
    severity: str,
) -> None:
    spans = []
    for in_title, start, size in raw_spans:
        field, value = ("title", title) if in_title else ("text", text)
        if start < len(value):
            spans.append(Span(field, start, min(len(value), start + size), "t"))
    html = telegram_html(alert_for(title, text, link, source, spans, severity), note)
    visible = parse_html(html)  # raises on anything Telegram would refuse
    html.encode("utf-8")  # valid UTF-8: no lone surrogate survives
    assert utf16_len(html) <= TELEGRAM_LIMIT
    assert utf16_len(visible) <= TELEGRAM_LIMIT


def test_real_post_renders_with_the_matched_word_bold_and_a_link() -> None:
    p = post(271457)
    text = p["text"]
    start = text.index("Дейр-эз-Зор")
    alert = alert_for(
        "Сирийская армия отразила атаки",
        text,
        p["link"] if "link" in p else "https://t.me/rian_ru/271457",
        "ria",
        [Span("text", start, start + 11, "Дейр-эз-Зор*")],
    )
    html = telegram_html(alert, note="🔇 @anna muted source ria until 15:00 UTC")
    assert "провинции <b>Дейр-эз-Зор</b>" in html
    assert '<a href="https://t.me/rian_ru/271457">' in html
    assert "🕒 2024-12-03 07:08 UTC" in html
    assert html.endswith("🔇 @anna muted source ria until 15:00 UTC")
    assert html.startswith("🔔 <b>wagner (Дейр-эз-Зор)</b>")  # the post's words, not terms
    parse_html(html)


def test_a_huge_post_is_narrowed_not_cut_inside_markup() -> None:
    text = ("Бойцы ЧВК Вагнера <погибли> & ранены " * 3000).strip()
    spans = [Span("text", i, i + 3, "ЧВК") for i in range(6, len(text), 37)][:2000]
    html = telegram_html(alert_for("x" * 5000, text, "https://t.me/a/1", "s" * 500, spans))
    assert utf16_len(html) <= TELEGRAM_LIMIT
    parse_html(html)
    assert "<b>ЧВК</b>" in html and "&lt;погибли&gt; &amp;" in html


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("ab Жж\n🇷🇺😀❗️•■"))
        | st.characters(exclude_categories=["Cs"]),
        max_size=12_000,
    )
)
def test_long_text_splits_into_messages_telegram_accepts(text: str) -> None:
    """Digests and long replies: every part within 4,096 UTF-16 units (an emoji outside
    the BMP counts two), nothing lost or reordered, lines kept whole where they fit."""
    from bot.platforms.telegram.render import split_text

    parts = split_text(text)
    assert all(utf16_len(p) <= TELEGRAM_LIMIT for p in parts)
    assert "".join(parts).replace("\n", "") == (text or "…").replace("\n", "")
    short = [line for line in text.split("\n") if 0 < utf16_len(line) <= TELEGRAM_LIMIT]
    assert all(any(line in p.split("\n") for p in parts) for line in short)


def test_a_digest_of_emoji_heavy_posts_reaches_telegram_in_parts_it_accepts() -> None:
    """4,200 code points of flags are 8,400 UTF-16 units: three messages, not two."""
    from bot.platforms.telegram.render import split_text

    flags = "🇷🇺🇺🇦🇸🇾" * 700  # 4,200 code points, 8,400 UTF-16 units
    parts = split_text(f"🗞 digest\n{flags}\nthe end")
    assert [utf16_len(p) <= TELEGRAM_LIMIT for p in parts] == [True] * len(parts)
    assert len(parts) == 4 and parts[0] == "🗞 digest" and parts[-1].endswith("\nthe end")

"""Build feeds for tests from real posts (tests/fixtures/tg_posts_sample.json)."""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

FIXTURES = Path(__file__).resolve().parent / "fixtures"
USERNAMES = {-1001101170442: "rian_ru", -1001003921752: "bbcrussian", -1001394050290: "bbbreaking"}


def real_posts() -> list[dict]:
    """The fixture's real Telegram posts, each with its public permalink as ``link``."""
    posts = json.loads((FIXTURES / "tg_posts_sample.json").read_text("utf-8"))
    for post in posts:
        post["link"] = f"https://t.me/{USERNAMES[post['sender_id']]}/{post['message_id']}"
    return posts


def labelled_pair(a: str, b: str) -> tuple[dict, dict]:
    """Two real posts from the labelled near-duplicate pairs (fixtures/dedup_pairs.json),
    e.g. RIA's and a retelling, each with its permalink as ``link``."""
    posts = json.loads((FIXTURES / "dedup_pairs.json").read_text("utf-8"))["posts"]
    out = []
    for key in (a, b):
        post = dict(posts[key])
        channel = "rian_ru" if key.startswith("1001101170442") else "bbbreaking"
        post["link"] = f"https://t.me/{channel}/{post['message_id']}"
        out.append(post)
    return out[0], out[1]


def post(message_id: int) -> dict:
    return next(p for p in real_posts() if p["message_id"] == message_id)


def rss(posts: list[dict], title: str = "test channel") -> bytes:
    """RSS 2.0, newest first as feeds are, guid = the permalink."""
    items = []
    for p in sorted(posts, key=lambda p: p["date"], reverse=True):
        first_line = p["text"].strip().split("\n")[0].replace("*", "")[:120]
        when = format_datetime(datetime.fromisoformat(p["date"]))
        items.append(
            f"<item><title>{escape(first_line)}</title><link>{escape(p['link'])}</link>"
            f"<guid>{escape(p['link'])}</guid><pubDate>{when}</pubDate>"
            f"<description>{escape(escape(p['text']))}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://t.me/s/test</link>"
        f"<description>test</description>{''.join(items)}</channel></rss>"
    ).encode()

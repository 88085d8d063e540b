"""Rebuild the bundled sample sources from ../shared/corpus (run once; output is committed).

    python samples/make_samples.py

The Telegram posts (CC BY 4.0, NKTKLN/telegram-news-classifier) become JSON Feeds, the
way a Telegram-to-RSS bridge would publish them; the Guardian feed is copied as it is.
"""

import html
import json
import re
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus"
CHANNELS = {  # dataset file -> (public channel username, feed file)
    "1001101170442_messages.json": ("rian_ru", "ria-novosti-2024-12-03.json"),
    "1001003921752_messages.json": ("bbcrussian", "bbc-russian-2024-12-03.json"),
    "1001394050290_messages.json": ("bbbreaking", "ranshe-vseh-2024-12-03.json"),
}
WINDOW = ("2024-12-03T00:00", "2024-12-03T10:00")  # the morning the Deir ez-Zor fighting was reported


def markdown_to_html(text: str) -> str:
    out = html.escape(text)
    out = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", r'<a href="\2">\1</a>', out)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out, flags=re.S)
    out = re.sub(r"__(.+?)__", r"<i>\1</i>", out, flags=re.S)
    return out.replace("\n", "<br>")


def title_of(text: str, width: int = 110) -> str:
    """The post's first line, without markdown, cut at a word boundary."""
    line = re.sub(r"\*\*|__", "", text.strip().split("\n")[0]).strip()
    if len(line) <= width:
        return line
    return line[: line.rfind(" ", 0, width)].rstrip(",;:—- ") + " …"


def main() -> None:
    for source, (username, target) in CHANNELS.items():
        posts = json.loads((CORPUS / "tg_news_posts_nktkln" / source).read_text("utf-8"))
        posts = [p for p in posts if (p.get("text") or "").strip() and WINDOW[0] <= p["date"] < WINDOW[1]]
        channel = posts[0]["channel"]
        feed = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": f"{channel} (t.me/{username}), sample",
            "home_page_url": f"https://t.me/s/{username}",
            "description": "Real posts of the morning of 3 Dec 2024 from the NKTKLN/telegram-news-classifier "
            "dataset (CC BY 4.0), as a JSON Feed.",
            "items": [
                {
                    "id": f"https://t.me/{username}/{p['message_id']}",
                    "url": f"https://t.me/{username}/{p['message_id']}",
                    "title": title_of(p["text"]),
                    "content_html": markdown_to_html(p["text"].strip()),
                    "date_published": p["date"],
                    "authors": [{"name": channel}],
                }
                for p in posts
            ],
        }
        (HERE / target).write_text(json.dumps(feed, ensure_ascii=False, indent=1), "utf-8")
    shutil.copy(CORPUS / "feeds_rss_parser/input/guardian.rss", HERE / "guardian-world-2018-01-31.rss")


if __name__ == "__main__":
    main()

"""Media records: what each watcher records of a post's pictures, videos and files
(watchers/media.py, the t.me/s parser, the feed and VK parsers), and the store keeping
them with the item.  The expectations for the real pages and feeds (tests/fixtures,
copied from ../shared/corpus) were read off their markup by hand."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from bot.migrations import MIGRATIONS, register_functions
from bot.model import Item, Media
from bot.store import Store, alert_from_json
from watchers.media import feed_media, html_images, json_media, vk_media
from watchers.rss import parse_feed
from watchers.telegram_channel import ChannelPost, parse_channel_page, post_to_item

FIXTURES = Path(__file__).parent / "fixtures"
CDN = "https://cdn4.telegram-cdn.org/file/"
T0 = datetime(2024, 12, 3, 7, 0, tzinfo=UTC)


def post(channel: str, number: int) -> ChannelPost:
    page = parse_channel_page((FIXTURES / "tme" / f"{channel}.html").read_bytes(), channel)
    return next(p for p in page.posts if p.id == number)


def feed(name: str, base: str = "https://example.org/feed") -> list[Item]:
    parsed = parse_feed((FIXTURES / name).read_bytes(), {}, "src", (), base)
    assert parsed.error is None
    return list(parsed.items)


# --------------------------------------------------------------------------- t.me/s


def test_a_tme_photo_is_recorded_with_its_image_url_and_shown_size() -> None:
    """codecamp/2357: one photo; its wrap says width:800px and the photo padding-top:54.375%."""
    item = post_to_item(post("codecamp", 2357), "codecamp")
    (photo,) = item.media
    assert photo.kind == "photo"
    assert photo.url is not None and photo.url.startswith(CDN + "iaZTlEHOgRhQKo3_jwLkp2m_")
    assert photo.url.endswith("d3whCyrLs_3WOc_A.jpg")
    assert (photo.width, photo.height) == (800, 435)
    assert item.images == item.media and item.media_kinds == ("photo",)


def test_a_tme_album_gives_every_photo_in_page_order() -> None:
    """excelhackru/1321: an album of four photos (1321..1324 ?single), no sizes of their own."""
    media = post("excelhackru", 1321).media
    assert [m.kind for m in media] == ["photo"] * 4
    assert [m.url[len(CDN) : len(CDN) + 12] for m in media if m.url] == [
        "A_Qh705aAOqL",
        "ktATO4GvTAnf",
        "lHNJ-LzubiPz",
        "Z5__8TLws8PT",
    ]
    assert all(m.width is None and m.height is None for m in media)


def test_a_tme_video_gives_its_thumbnail_and_duration() -> None:
    (video,) = post("excelhackru", 1329).media  # "0:45" under its player
    assert video.kind == "video" and video.duration == 45.0
    assert video.url is not None and video.url.startswith(CDN + "ZXeid5JW_RQhX8_35Bdoic-19")
    (round_video,) = post("antichristone", 506).media  # a round video message, "0:21"
    assert (round_video.kind, round_video.duration) == ("video", 21.0)
    assert round_video.url is not None and round_video.url.startswith(CDN + "pFoSEiluKgjY")


def test_tme_documents_are_recorded_by_name_without_a_picture() -> None:
    assert post("codecamp", 2364).media == (Media("document", name="Гид по Computer Science.pdf"),)
    names = [m.name for m in post("vtosters", 1452).media]  # five files in one post
    assert names == ["linux64.zip", "mac.pkg", "win32.exe", "win64.exe", "linux32.zip"]
    assert not post_to_item(post("vtosters", 1452), "v").images


def test_a_tme_link_preview_gives_its_picture() -> None:
    (preview,) = post("codecamp", 2371).media
    assert preview.kind == "link_preview"
    assert preview.url is not None and preview.url.startswith(CDN + "Jy1tFeqVdKo3A9BECtcP")


def test_every_real_tme_post_keeps_the_kinds_it_had() -> None:
    """The records carry the kinds the parser listed before (each kind once, in order)."""
    counts = {"photo": 0, "video": 0, "document": 0}
    for page in (FIXTURES / "tme").glob("*.html"):
        parsed = parse_channel_page(page.read_bytes(), page.stem)
        for p in parsed.posts:
            for m in p.media:
                if m.kind in counts:
                    counts[m.kind] += 1
                if m.kind == "photo":
                    assert m.url and m.url.startswith("https://cdn")
    # photo wraps, video and round players, document wraps on the six pages (grep)
    photos, videos, documents = 10 + 14 + 12 + 5, 5 + 6 + 2 + 11 + 1 + 1, 2 + 1 + 5 + 3
    assert counts == {"photo": photos, "video": videos, "document": documents}


# --------------------------------------------------------------------------- feeds


def test_media_rss_sizes_of_one_picture_are_one_record() -> None:
    """Guardian: two media:content of one picture (?w=140 and ?w=460): the wider kept."""
    items = feed("guardian.rss", "https://www.theguardian.com/world/rss")
    trump = next(i for i in items if i.title.startswith("Trump State of the Union address"))
    (photo,) = trump.media
    assert photo.kind == "photo" and photo.width == 460
    assert photo.url is not None and photo.url.startswith(
        "https://i.guim.co.uk/img/media/b73c8752cd4667c923dff7f1542f1fb20089e421/"
    )
    assert "w=460" in photo.url
    assert sum(1 for i in items if i.media) == 55


def test_an_enclosure_and_media_content_give_audio_by_name_and_the_cover_image() -> None:
    (item,) = feed("rss_2.0_spiegel.xml")
    audio, cover = item.media
    assert (audio.kind, audio.url, audio.name) == ("audio", None, "audio.mp3")
    assert (audio.mime, audio.size) == ("audio/mpeg", 2519606)  # <enclosure length>
    assert (cover.kind, cover.mime) == ("photo", "image/jpeg")
    assert cover.url is not None and cover.url.startswith("https://www.omnycontent.com/d/programs/")


def test_a_youtube_entry_is_a_video_with_its_thumbnail() -> None:
    (item,) = feed("atom_mediarss_youtube_1.xml")
    (video,) = item.media
    assert video.kind == "video"
    assert (video.url, video.width, video.height) == (
        "https://i1.ytimg.com/vi/0A1ouV7iD8o/hqdefault.jpg",
        480,
        360,
    )


def test_html_content_images_skip_trackers_pixels_and_icons() -> None:
    content = (
        '<p>Text <img src="/img/emoji/1f600.png" class="emoji" alt="😀"></p>'
        '<img src="https://cdn.example.org/a.jpg" alt="The burnt column" width="640">'
        '<img src="https://pixel.wp.com/b.gif?host=x" width="1" height="1">'
        '<img src="https://example.org/t.gif" width="1" height="1">'
        '<img src="https://feeds.feedburner.com/~r/x/~4/abc">'
        '<img src="data:image/png;base64,AAAA">'
        '<img src="https://s.w.org/images/core/emoji/14.0.0/72x72/1f1fa.png">'
        '<img src="/favicon.ico">'
        "<img src='relative/b.png' alt='second'>"
    )
    images = html_images(content, "https://example.org/news/1")
    assert images == (
        Media("photo", "https://cdn.example.org/a.jpg", width=640, alt="The burnt column"),
        Media("photo", "https://example.org/news/relative/b.png", alt="second"),
    )
    many = "".join(f'<img src="https://e.org/{n}.jpg">' for n in range(10))
    assert len(html_images(many, None)) == 4


def test_mastodon_media_as_its_rss_gives_them() -> None:
    """Mastodon's RSS: <media:content url type fileSize medium> per attachment."""
    body = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>x</title>
<item><guid>https://mastodon.social/@a/1</guid><link>https://mastodon.social/@a/1</link>
<description>&lt;p&gt;Photos from the scene&lt;/p&gt;</description>
<media:content url="https://files.mastodon.social/media/1/original/a.jpg" type="image/jpeg"
 fileSize="81234" medium="image"><media:rating scheme="urn:simple">nonadult</media:rating>
</media:content>
<media:content url="https://files.mastodon.social/media/1/original/b.mp4" type="video/mp4"
 fileSize="1234567" medium="video"/>
</item></channel></rss>"""
    (item,) = parse_feed(body, {}, "m", (), "https://mastodon.social/@a.rss").items
    photo, video = item.media
    assert photo == Media(
        "photo",
        "https://files.mastodon.social/media/1/original/a.jpg",
        size=81234,
        mime="image/jpeg",
    )
    assert (video.kind, video.url, video.name, video.size) == ("video", None, "b.mp4", 1234567)


def test_json_feed_image_and_attachments() -> None:
    raw = {
        "image": "https://e.org/cover.jpg",
        "attachments": [
            {"url": "https://e.org/a.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 99},
            {"url": "https://e.org/p.png", "mime_type": "image/png", "title": "map"},
        ],
        "content_html": '<img src="https://e.org/cover.jpg?w=200" width="200">',
    }
    assert json_media(raw, None) == (  # the cover, its wider copy from the content kept
        Media("photo", "https://e.org/cover.jpg?w=200", width=200),
        Media("audio", size=99, mime="audio/mpeg", name="a.mp3"),
        Media("photo", "https://e.org/p.png", mime="image/png", alt="map"),
    )


def test_feed_media_never_raises_on_odd_values() -> None:
    odd = {"enclosures": [{"href": 7}, "x"], "media_content": {"url": "javascript:1"}, "content": 3}
    assert feed_media(odd, None) == ()


# --------------------------------------------------------------------------- VK


def test_vk_photo_attachments_give_the_largest_size() -> None:
    attachments = [
        {
            "type": "photo",
            "photo": {
                "text": "Колонна",
                "sizes": [
                    {
                        "type": "s",
                        "url": "https://sun9-1.userapi.com/s.jpg",
                        "width": 75,
                        "height": 56,
                    },
                    {
                        "type": "x",
                        "url": "https://sun9-1.userapi.com/x.jpg",
                        "width": 604,
                        "height": 453,
                    },
                ],
            },
        },
        {
            "type": "video",
            "video": {
                "duration": 95,
                "image": [{"url": "https://sun9-2.userapi.com/v.jpg", "width": 320, "height": 240}],
            },
        },
        {"type": "doc", "doc": {"title": "приказ", "ext": "pdf", "size": 12345}},
        {"type": "poll", "poll": {"question": "?"}},
    ]
    assert vk_media(attachments) == (
        Media("photo", "https://sun9-1.userapi.com/x.jpg", 604, 453, alt="Колонна"),
        Media("video", "https://sun9-2.userapi.com/v.jpg", 320, 240, duration=95.0),
        Media("document", size=12345, name="приказ.pdf"),
        Media("poll"),
    )


# --------------------------------------------------------------------------- store


def test_the_store_keeps_media_with_the_item_and_old_rows_stay_valid(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    before = [m.__name__ for m in MIGRATIONS].index("_m12_item_media")
    with sqlite3.connect(path) as conn:
        register_functions(conn)
        db = sqlite_utils.Database(conn)
        for migration in MIGRATIONS[:before]:
            migration(db)
        conn.execute(f"PRAGMA user_version = {before}")
        conn.execute(
            "insert into items (source, key, story_key, title, text, link, first_seen_at, tags)"
            " values ('ria', 'post:a/1', 'link:x', 'Old', 'old text', 'x', ?, '[]')",
            [T0.isoformat()],
        )
    store = Store.open(path)
    photo = Media("photo", "https://cdn.example/p.jpg", 800, 435)
    doc = Media("document", name="report.pdf")
    new = Item("ria", "post:a/2", "link:y", "New", "new text", media=(photo, doc), revision="r1")
    store.record_items([new], T0)
    items = {i.key: i for i in store.recent_items(T0.replace(year=2020))}
    assert items["post:a/1"].media == ()
    assert items["post:a/2"].media == (photo, doc)
    edited = Item("ria", "post:a/2", "link:y", "New", "edited", media=(doc,), revision="r2")
    store.record_items([edited], T0)
    assert {i.key: i for i in store.recent_items(T0.replace(year=2020))}["post:a/2"].media == (doc,)
    store.close()


def test_alerts_stored_with_old_string_kinds_still_load() -> None:
    payload = {
        "destination": "console",
        "story_key": "s",
        "item": {
            "source": "ria",
            "key": "k",
            "story_key": "s",
            "title": "t",
            "text": "x",
            "link": None,
            "published": None,
            "author": None,
            "tags": [],
            "media": ["photo", "video"],
        },
        "matches": [],
    }
    assert alert_from_json(payload).item.media == (Media("photo"), Media("video"))
    del payload["item"]["media"]  # type: ignore[attr-defined]
    assert alert_from_json(json.loads(json.dumps(payload))).item.media == ()

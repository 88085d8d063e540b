"""Pictures in the alert (issue 17): the real App, store, outbox and python-telegram-bot
against the fake Bot API, a fake image server (``FeedServer``) on 127.0.0.1, and Slack's
and the console's rendering of an alert with photos.

Each Telegram test enqueues an alert whose item carries photos (as the watchers record
them) and lets the real outbox deliver it: the way it arrives depends on the
destination's (or rule's) ``media`` option."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import load_rules
from bot.config import ConfigError, load_config
from bot.model import Alert, Destination, Item, Match, Media, OutgoingMessage, Span
from bot.platforms.console.adapter import ConsoleAdapter
from bot.platforms.slack.render import slack_blocks
from bot.render import digest_text
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import block_errors
from tests.fakes.telegram_api import FakeTelegram, UploadedFile

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:TEST-token-never-logged"
PREVIEW, PHOTO, ALBUM, NONE = -1001000000011, -1001000000012, -1001000000013, -1001000000014
POOL = ThreadPoolExecutor(2)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 600
TEXT = "Бойцы ЧВК Вагнер погибли под Дейр-эз-Зором. " * 3


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeTelegram, FeedServer]]:
    async with FakeTelegram(token=TOKEN) as tg, FeedServer() as images:
        images.set("/a.jpg", body=JPEG, content_type="image/jpeg")
        images.set("/b.png", body=PNG, content_type="image/png")
        images.set("/c.jpg", body=JPEG[::-1], content_type="image/jpeg")  # no JPEG inside
        images.set("/page.jpg", body=b"<html>login</html>", content_type="image/jpeg")
        yield tg, images


def config(tmp_path: Path, tg: FakeTelegram, allow_private: bool = True) -> Path:
    path = tmp_path / "config.toml"
    allow = 'allow_private = ["127.0.0.1"]' if allow_private else ""
    path.write_text(
        f"""
[storage]
path = "dozor.db"
[polling]
{allow}
[rules]
paths = ["{ROOT}/rules/*.toml"]
[telegram]
api_base_url = "{tg.api_root}"
per_chat_interval = "20ms"
[[destinations]]
name = "preview"
kind = "telegram"
chat_id = {PREVIEW}
[[destinations]]
name = "photo"
kind = "telegram"
chat_id = {PHOTO}
media = "photo"
[[destinations]]
name = "album"
kind = "telegram"
chat_id = {ALBUM}
media = "album"
[[destinations]]
name = "none"
kind = "telegram"
chat_id = {NONE}
media = "none"
""",
        encoding="utf-8",
    )
    return path


def app_for(path: Path) -> App:
    settings = load_config(path)
    rules, problems = load_rules(settings)
    assert problems == []
    return App(
        settings, rules, stream=io.StringIO(), pool=POOL, environ={"TELEGRAM_BOT_TOKEN": TOKEN}
    )


def item(*urls: str, text: str = TEXT, key: str = "1", title: str = "Дейр-эз-Зор") -> Item:
    return Item(
        "ria",
        f"guid:{key}",
        f"link:https://t.me/rian_ru/{key}",
        title,
        text,
        f"https://t.me/rian_ru/{key}",
        datetime(2024, 12, 3, 7, 0, tzinfo=UTC),
        media=tuple(Media("photo", url, alt=f"photo {i}") for i, url in enumerate(urls)),
    )


def alert(destination: str, it: Item) -> Alert:
    match = Match("wagner", ("ЧВК",), (Span("text", 6, 9, "ЧВК"),))
    return Alert(destination, it, (match,), it.story_key)


async def deliver(app: App, destination: str, it: Item) -> int:
    """Enqueue the alert (through the store: its payload keeps the media) and let the
    outbox deliver it; the number of alerts sent."""
    assert app.store.enqueue_alert(alert(destination, it), datetime.now(UTC)) is not None
    return await app.outbox.deliver_due()


async def test_one_photo_shows_above_the_text_as_its_link_preview_by_default(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, images = servers
    async with app_for(config(tmp_path, tg)) as app:
        await app.connect(listen=False)
        assert await deliver(app, "preview", item(images.url("/a.jpg"))) == 1
    (msg,) = tg.messages(PREVIEW)
    assert msg.link_preview_options == {
        "url": images.url("/a.jpg"),
        "show_above_text": True,
        "prefer_large_media": True,
    }
    assert "<b>ЧВК</b>" in msg.text and msg.reply_markup is not None  # buttons kept
    assert [r.method for r in tg.requests if r.method.startswith("send")] == ["sendMessage"]
    assert images.requests_to("/a.jpg") == []  # Telegram fetches it, Dozor does not


async def test_photo_mode_sends_the_photo_with_the_alert_as_caption_and_the_rest_in_a_reply(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, images = servers
    long_text = "ЧВК Вагнер: " + "🔥🔥 пост о событиях в провинции. " * 60
    title = "Заголовок " * 30  # with a 600-character snippet: over 1,024 UTF-16 units
    async with app_for(config(tmp_path, tg)) as app:
        await app.connect(listen=False)
        assert await deliver(app, "photo", item(images.url("/a.jpg"))) == 1
        longer = item(images.url("/a.jpg"), text=long_text, key="2", title=title)
        assert await deliver(app, "photo", longer) == 1
    short, long, rest = tg.messages(PHOTO)
    assert short.file == images.url("/a.jpg") and "<b>ЧВК</b>" in short.caption
    assert short.reply_markup is not None and "Open the post" in short.caption
    assert len(long.caption) <= 1024 and long.file == images.url("/a.jpg")
    assert rest.reply_to_message_id == long.message_id and "провинции" in rest.text
    assert len(rest.text) > 500 and rest.text.count("провинции") > long.caption.count("провинции")


async def test_several_photos_go_as_an_album_under_the_alert_where_the_destination_opts_in(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, images = servers
    urls = [images.url("/a.jpg"), images.url("/b.png"), images.url("/a.jpg?2")]
    async with app_for(config(tmp_path, tg)) as app:
        await app.connect(listen=False)
        assert await deliver(app, "album", item(*urls)) == 1
        assert await deliver(app, "preview", item(*urls, key="2")) == 1
    text, *album = tg.messages(ALBUM)
    assert "<b>ЧВК</b>" in text.text and text.reply_markup is not None
    assert [m.file for m in album] == urls
    assert len({m.media_group_id for m in album}) == 1 and album[0].media_group_id
    assert all(m.reply_to_message_id == text.message_id for m in album)
    (preview,) = tg.messages(PREVIEW)  # not opted in: the first photo as the preview
    assert preview.link_preview_options["url"] == urls[0]


async def test_a_url_telegram_refuses_is_fetched_by_dozor_and_uploaded_as_multipart(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, images = servers
    tg.refuse_urls(images.base_url)
    async with app_for(config(tmp_path, tg)) as app:
        await app.connect(listen=False)
        assert await deliver(app, "photo", item(images.url("/a.jpg"))) == 1
        album = item(images.url("/a.jpg"), images.url("/b.png"), images.url("/c.jpg"), key="2")
        assert await deliver(app, "album", album) == 1
        one_left = item(images.url("/a.jpg"), images.url("/c.jpg"), key="3")
        assert await deliver(app, "album", one_left) == 1
        assert await deliver(app, "album", item(images.url("/b.png"), key="4")) == 1
    refused, uploaded, *rest = tg.calls("sendPhoto")
    assert refused.status == 400 and "HTTP URL" in refused.response["description"]
    assert uploaded.encoding == "multipart" and uploaded.status == 200
    (photo,) = tg.messages(PHOTO)
    assert isinstance(photo.file, UploadedFile) and photo.file.data == JPEG
    assert "<b>ЧВК</b>" in photo.caption
    assert len(images.requests_to("/a.jpg")) == 3  # once per alert, by Dozor
    _, a, b, text, single, photo = tg.messages(ALBUM)  # c.jpg is no image: left out
    assert [m.file.data for m in (a, b) if isinstance(m.file, UploadedFile)] == [JPEG, PNG]
    assert [r.encoding for r in tg.calls("sendMediaGroup")] == ["form", "multipart", "form"]
    assert single.reply_to_message_id == text.message_id  # one picture left: a photo
    assert isinstance(single.file, UploadedFile) and single.file.data == JPEG
    assert photo.caption and "<b>ЧВК</b>" in photo.caption  # an album of one is a photo
    assert len(rest) == 3


@pytest.mark.parametrize("path", ["/page.jpg", "/c.jpg", "/missing.jpg"])
async def test_a_broken_image_leaves_the_alert_as_text_saying_so(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer], path: str
) -> None:
    tg, images = servers
    tg.refuse_urls(images.base_url, "Bad Request: failed to get HTTP URL content")
    async with app_for(config(tmp_path, tg)) as app:
        await app.connect(listen=False)
        assert await deliver(app, "photo", item(images.url(path))) == 1
        assert app.store.outbox_counts()["photo"] == {"sent": 1}
    (msg,) = tg.messages(PHOTO)
    assert "<b>ЧВК</b>" in msg.text and msg.reply_markup is not None
    assert f"photo could not be shown: {images.url(path)}" in msg.text
    assert [r.encoding for r in tg.calls("sendPhoto")] == ["form"]  # nothing uploaded


async def test_a_private_image_address_is_not_fetched_without_allow_private(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, images = servers
    tg.refuse_urls(images.base_url)
    async with app_for(config(tmp_path, tg, allow_private=False)) as app:
        await app.connect(listen=False)
        assert await deliver(app, "photo", item(images.url("/a.jpg"))) == 1
    assert images.requests_to("/a.jpg") == []
    (msg,) = tg.messages(PHOTO)
    assert "photo could not be shown" in msg.text


async def test_a_429_on_send_photo_is_paced_and_the_alert_delivered_once(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, images = servers
    tg.fail_next("sendPhoto", 429, retry_after=1)
    async with app_for(config(tmp_path, tg)) as app:
        await app.connect(listen=False)
        app.store.enqueue_alert(alert("photo", item(images.url("/a.jpg"))), datetime.now(UTC))
        stop = asyncio.Event()
        runner = asyncio.create_task(app.outbox.run(stop))
        await tg.wait_for("sendPhoto", count=2, timeout=15)
        for _ in range(500):
            if app.store.outbox_counts()["photo"] == {"sent": 1}:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await runner
        assert app.store.outbox_counts()["photo"] == {"sent": 1}
    limited, sent = tg.calls("sendPhoto")
    assert limited.status == 429 and sent.status == 200
    assert sent.time >= limited.time + 1 - 0.05  # not before retry_after
    assert len(tg.messages(PHOTO)) == 1  # delivered once


async def test_media_none_and_no_photos_send_plain_alerts_and_edits_reach_captions(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, images = servers
    async with app_for(config(tmp_path, tg)) as app:
        await app.connect(listen=False)
        assert await deliver(app, "none", item(images.url("/a.jpg"))) == 1
        assert await deliver(app, "photo", item(key="2")) == 1  # no photo: text
        assert await deliver(app, "photo", item(images.url("/a.jpg"), key="3")) == 1
        adapter = app.adapters["telegram"]
        (stored,) = [(i, a) for i, a in app.store.sent_alerts("photo") if a.item.key == "guid:3"]
        photo = tg.messages(PHOTO)[-1]
        message = OutgoingMessage(
            stored[0], "photo", stored[1], note="👥 Also seen in 1 source: tass (07:05)"
        )
        from dataclasses import replace

        edited = await adapter.edit(replace(message, remote_id=str(photo.message_id)))
        assert edited.status.value == "sent", edited.detail
    (plain,) = tg.messages(NONE)
    assert plain.link_preview_options == {"is_disabled": True}
    assert tg.messages(PHOTO)[0].text is not None
    assert "Also seen in 1 source" in tg.messages(PHOTO)[-1].caption


async def test_slack_receives_an_image_block_with_alt_text_from_the_real_client(
    tmp_path: Path,
) -> None:
    from tests.fakes.slack_api import FakeSlack

    bot, app_token = "xoxb-1111-2222-dozor-never-logged", "xapp-1-A0DOZOR-3333-never-logged"
    async with FakeSlack(bot_token=bot, app_token=app_token) as slack:
        path = tmp_path / "config.toml"
        path.write_text(
            f'[storage]\npath = "dozor.db"\n[rules]\npaths = ["{ROOT}/rules/*.toml"]\n'
            f'[slack]\napi_base_url = "{slack.api_url}"\n'
            '[[destinations]]\nname = "desk"\nkind = "slack"\nchannel = "CDESK01"\n',
            encoding="utf-8",
        )
        settings = load_config(path)
        rules, _ = load_rules(settings)
        env = {"SLACK_BOT_TOKEN": bot, "SLACK_APP_TOKEN": app_token}
        async with App(settings, rules, stream=io.StringIO(), pool=POOL, environ=env) as app:
            await app.connect(listen=False)
            urls = ["https://cdn.example/1.jpg", "https://cdn.example/2.jpg"]
            assert await deliver(app, "desk", item(*urls)) == 1
    (message,) = slack.messages("CDESK01")
    assert message.blocks is not None
    (image,) = [b for b in message.blocks if b["type"] == "image"]
    assert image["image_url"] == urls[0] and image["alt_text"] == "photo 0"
    assert "+1 photo>" in str(message.blocks)


def test_slack_shows_the_first_photo_as_an_image_block_and_counts_the_rest() -> None:
    it = item("https://cdn.example/1.jpg", "https://cdn.example/2.jpg", "https://cdn.example/3.jpg")
    it = Item(**{**it.__dict__, "media": (Media("photo", it.media[0].url), *it.media[1:])})
    blocks, _ = slack_blocks(alert("desk", it), None, "photo")
    (image,) = [b for b in blocks if b["type"] == "image"]
    assert image == {
        "type": "image",
        "image_url": "https://cdn.example/1.jpg",
        "alt_text": "photo from ria",
    }
    context = next(b for b in blocks if b["type"] == "context")["elements"][0]["text"]
    assert "📷 <https://t.me/rian_ru/1|+2 photos>" in context
    assert block_errors(blocks) == []
    none, _ = slack_blocks(alert("desk", it), None, "none")
    assert not [b for b in none if b["type"] == "image"]


def test_console_lists_the_media_and_a_digest_counts_photos() -> None:
    it = item("https://cdn.example/1.jpg", "https://cdn.example/2.jpg")
    shown = ConsoleAdapter(io.StringIO(), color=False).format(
        OutgoingMessage(7, "console", alert("console", it))
    )
    assert "Media:   📷 photo https://cdn.example/1.jpg (photo 0)" in shown
    assert "Media:   📷 photo https://cdn.example/2.jpg (photo 1)" in shown
    digest = digest_text([alert("d", it), alert("d", item(key="2"))], "hourly", datetime.now(UTC))
    first, second = [line for line in digest.split("\n") if line.startswith("•")]
    assert first.endswith("📷 2") and "📷" not in second


def test_a_bad_media_value_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[destinations]]\nname = "c"\nkind = "console"\nmedia = "gallery"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert 'destinations[0].media: expected "none", "preview", "photo" or "album"' in str(
        error.value
    )
    (tmp_path / "r.toml").write_text(
        '[[rule]]\nname = "w"\nany = ["ЧВК"]\nmedia = "video"\n', encoding="utf-8"
    )
    path.write_text(
        f'[rules]\npaths = ["{tmp_path}/r.toml"]\n[[destinations]]\nname = "c"\nkind = "console"\n',
        encoding="utf-8",
    )
    _, problems = load_rules(load_config(path))
    assert any("r.toml:4" in p and '"media" must be one of' in p for p in problems), problems


def test_a_rules_media_wins_over_the_destinations() -> None:
    from bot.pictures import mode_for
    from bot.platforms.telegram.render import LIMITS

    it = item("https://cdn.example/1.jpg", "https://cdn.example/2.jpg")
    desk = Destination("desk", "telegram", "-1", media="album")
    assert mode_for(alert("desk", it), desk, LIMITS) == "album"
    assert mode_for(alert("desk", item("https://cdn.example/1.jpg")), desk, LIMITS) == "photo"
    chosen = Alert("desk", it, alert("desk", it).matches, it.story_key, media="none")
    assert mode_for(chosen, desk, LIMITS) == "none"
    assert mode_for(alert("desk", item()), desk, LIMITS) == "none"  # no photo


async def test_the_image_fetch_checks_every_hop_the_size_and_the_bytes() -> None:
    from watchers.http import HttpClient
    from watchers.media import FetchedImage, ImageError, fetch_image

    async def fetch(url: str, allow: list[str]) -> FetchedImage:
        async with HttpClient(allow=allow) as http:
            return await fetch_image(http, url, timeout=10)

    async with FeedServer() as images:
        images.set("/a.jpg", body=JPEG, content_type="image/jpeg")
        images.set("/meta", body=b"", redirect="http://169.254.169.254/latest/meta-data/")
        images.set("/huge.jpg", body=b"", content_type="image/jpeg", oversized=30_000_000)
        images.set("/loop", body=b"", redirect="/loop")
        images.set("/page.jpg", body=b"<html>login</html>", content_type="image/jpeg")
        images.set("/page.html", body=JPEG, content_type="text/html")
        local = ["127.0.0.1"]
        got = await fetch(images.url("/a.jpg"), local)
        assert (got.body, got.mime, got.extension) == (JPEG, "image/jpeg", ".jpg")
        for path, allow, why in [
            ("/a.jpg", [], "127.0.0.1"),  # loopback, not allowed
            ("/meta", local, "169.254.169.254"),  # a redirect hop to the metadata address
            ("/huge.jpg", local, "larger than"),
            ("/loop", local, "too many redirects"),
            ("/page.jpg", local, "not an image"),  # HTML served as image/jpeg
            ("/page.html", local, "not an image"),
            ("/nothing.jpg", local, "404"),
        ]:
            with pytest.raises(ImageError, match=why):
                await fetch(images.url(path), allow)


async def test_a_feed_items_media_rss_picture_reaches_telegram_as_a_photo(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    """From the feed to the chat: the watcher records the picture, the store and the
    outbox keep it, the rule's ``media = "photo"`` sends it as a photo."""
    tg, images = servers
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rule]]\nname = "wagner"\nany = ["ЧВК"]\nmedia = "photo"\ndestinations = ["preview"]\n',
        encoding="utf-8",
    )

    def feed(*guids: str) -> bytes:
        entries = "".join(
            f"<item><title>Дейр-эз-Зор {g}</title><link>https://example.org/{g}</link>"
            f"<guid>{g}</guid><description>Бойцы ЧВК Вагнер, пост {g}</description>"
            f'<media:content url="{images.url("/a.jpg")}" medium="image" width="800"/>'
            "</item>"
            for g in guids
        )
        return (
            '<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
            f"<channel><title>t</title>{entries}</channel></rss>"
        ).encode()

    path = config(tmp_path, tg)
    text = path.read_text(encoding="utf-8").replace(f"{ROOT}/rules/*.toml", str(rules))
    path.write_text(
        text + f'[[sources]]\nname = "ria"\nurl = "{images.url("/feed.rss")}"\n', encoding="utf-8"
    )
    async with app_for(path) as app:
        await app.connect(listen=False)
        images.set("/feed.rss", body=feed("1"), content_type="application/rss+xml")
        await app.poller.poll_all()
        images.set("/feed.rss", body=feed("1", "2"))
        await app.poller.poll_all()
        assert await app.outbox.deliver_due() == 1
    (photo,) = tg.messages(PREVIEW)  # the rule's media wins over the destination's
    assert photo.file == images.url("/a.jpg") and "<b>ЧВК</b>" in photo.caption


async def test_a_mute_button_under_a_photo_alert_redraws_its_caption(
    tmp_path: Path, servers: tuple[FakeTelegram, FeedServer]
) -> None:
    tg, images = servers
    async with app_for(config(tmp_path, tg)) as app:
        await app.connect(listen=True)
        assert await deliver(app, "photo", item(images.url("/a.jpg"))) == 1
        (photo,) = tg.messages(PHOTO)
        mute = next(
            b["callback_data"]
            for row in photo.reply_markup["inline_keyboard"]
            for b in row
            if "Mute source" in b["text"]
        )
        tg.push_callback(PHOTO, photo.message_id, mute, user_id=7, username="anna")
        await tg.wait_for("editMessageCaption", timeout=10)
    assert tg.calls("editMessageText") == []
    (edit,) = tg.messages(PHOTO)[0].edits
    assert "@anna muted source ria until" in (edit.text or "")
    assert "<b>ЧВК</b>" in (edit.text or "")

"""What a picture costs per alert, by ``media`` way: Bot API requests, bytes sent to the
API and delivery time against the fake Telegram (and a fake image server) on 127.0.0.1.

    .venv/bin/python -m tests.bench_media [--alerts 20]

The fake answers at once, so the times are Dozor's and python-telegram-bot's own
work plus loopback HTTP and the pacing between an alert's requests (here 1 ms); a
real Bot API adds its round trip per request, and Telegram's own fetch of the image.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from tests.test_media_alerts import JPEG, PNG, ROOT, TOKEN, alert, app_for, item

CHAT = -1001000000099
CASES = {  # name: (media way, photos, text, Telegram refuses the URLs)
    "none (text only)": ("none", 1, "short", False),
    "preview": ("preview", 1, "short", False),
    "photo, caption fits": ("photo", 1, "short", False),
    "photo, caption + reply": ("photo", 1, "long", False),
    "album of 3": ("album", 3, "short", False),
    "photo, URL refused: upload": ("photo", 1, "short", True),
}
LONG = "ЧВК Вагнер: " + "🔥🔥 пост о событиях в провинции. " * 60


async def measure(name: str, count: int) -> tuple[float, float, float, float]:
    mode, photos, text, refused = CASES[name]
    async with FakeTelegram(token=TOKEN) as tg, FeedServer() as images:
        images.set("/a.jpg", body=JPEG * 40, content_type="image/jpeg")  # ~83 KB
        images.set("/b.png", body=PNG, content_type="image/png")
        if refused:
            tg.refuse_urls(images.base_url)
        urls = [images.url("/a.jpg"), images.url("/b.png"), images.url("/a.jpg?3")][:photos]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "config.toml"
            path.write_text(
                f'[storage]\npath = "{tmp}/d.db"\n[polling]\nallow_private = ["127.0.0.1"]\n'
                f'[rules]\npaths = ["{ROOT}/rules/*.toml"]\n'
                f'[telegram]\napi_base_url = "{tg.api_root}"\nper_chat_interval = "1ms"\n'
                f'[[destinations]]\nname = "d"\nkind = "telegram"\nchat_id = {CHAT}\n'
                f'media = "{mode}"\n',
                encoding="utf-8",
            )
            async with app_for(path) as app:
                await app.connect(listen=False)
                before = len(tg.requests)
                times = []
                for k in range(count):
                    it = item(
                        *urls,
                        key=str(k),
                        text=LONG if text == "long" else "ЧВК Вагнер " * 10,
                        title="Заголовок " * 30 if text == "long" else "Дейр-эз-Зор",
                    )
                    app.store.enqueue_alert(alert("d", it), datetime.now(UTC))
                    start = time.perf_counter()
                    assert await app.outbox.deliver_due() == 1
                    times.append(time.perf_counter() - start)
                sent = [r for r in tg.requests[before:] if r.method != "getMe"]
    fetched = sum(len(images.requests_to(p)) for p in ("/a.jpg", "/b.png"))
    return (
        len(sent) / count,
        sum(r.size for r in sent) / count,
        statistics.median(times) * 1000,
        fetched / count,
    )


async def main(count: int) -> None:
    print(f"{'way':30} {'requests':>8} {'bytes':>8} {'p50 ms':>7} {'fetches':>7}")
    for name in CASES:
        requests, size, p50, fetched = await measure(name, count)
        print(f"{name:30} {requests:8.1f} {size:8.0f} {p50:7.1f} {fetched:7.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=20)
    asyncio.run(main(parser.parse_args().alerts))

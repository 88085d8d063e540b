"""OPML: a feed list moves in and out of Dozor with its names and tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_config
from watchers.opml import OpmlError, read_opml, write_opml

ROOT = Path(__file__).resolve().parents[1]

# The shape Miniflux and Feedly export: folders as outlines, feeds with xmlUrl.
READER_EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Miniflux</title></head>
  <body>
    <outline text="Syria">
      <outline title="Meduza" text="Meduza" xmlUrl="https://meduza.io/rss/all" type="rss"/>
      <outline title="BBC Русская служба"
               xmlurl="https://feeds.bbci.co.uk/russian/rss.xml"/>
    </outline>
    <outline text="Guardian world" xmlUrl="https://www.theguardian.com/world/rss"
             category="news,en"/>
    <outline text="a folder with nothing"/>
  </body>
</opml>""".encode()


def test_reader_export_is_read_with_folders_as_tags() -> None:
    feeds = read_opml(READER_EXPORT)
    assert [(f.name, f.url, f.tags) for f in feeds] == [
        ("meduza", "https://meduza.io/rss/all", ("syria",)),
        ("bbc", "https://feeds.bbci.co.uk/russian/rss.xml", ("syria",)),
        ("guardian-world", "https://www.theguardian.com/world/rss", ("news", "en")),
    ]
    assert feeds[1].title == "BBC Русская служба"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<rss/>", "not OPML: the root element is <rss>"),
        (b"<opml><bo", "not valid OPML"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
            b'"&lol;&lol;&lol;">]><opml><body>&lol2;</body></opml>',
            "refusing to expand",
        ),
    ],
)
def test_bad_files_get_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message):
        read_opml(data)


def test_import_into_the_config_then_export_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[[sources]]\nname = "meduza-ru"\nurl = "https://meduza.io/rss/all"\n'
        '[[destinations]]\nname = "console"\nkind = "console"\n',
        encoding="utf-8",
    )
    opml = tmp_path / "reader.opml"
    opml.write_bytes(READER_EXPORT)
    assert main(["sources", "import", str(opml), "--config", str(config)]) == 0
    assert "added 2 sources" in capsys.readouterr().out  # meduza was there already
    settings = load_config(config)
    assert [(s.name, s.tags) for s in settings.sources] == [
        ("meduza-ru", ()),
        ("bbc", ("syria",)),
        ("guardian-world", ("news", "en")),
    ]
    assert main(["sources", "import", str(opml), "--config", str(config)]) == 0
    assert "all already in" in capsys.readouterr().out
    out = tmp_path / "out.opml"
    assert main(["sources", "export", "--config", str(config), "-o", str(out)]) == 0
    again = read_opml(out.read_bytes())
    assert [(f.name, f.url, f.tags) for f in again] == [
        (s.name, s.url, s.tags) for s in settings.sources
    ]


def test_write_escapes_everything() -> None:
    from watchers.opml import OpmlFeed

    text = write_opml([OpmlFeed("x", 'A "quoted" <b>&', "https://e.org/?a=1&b=2", ("t",))])
    (feed,) = read_opml(text.encode())
    assert feed.title == 'A "quoted" <b>&' and feed.url == "https://e.org/?a=1&b=2"


def test_a_dtd_is_refused_in_any_encoding() -> None:
    """A UTF-16 file hides "<!DOCTYPE" from a search of its bytes; the parser's own
    report of the declaration refuses it all the same."""
    text = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<!DOCTYPE opml [<!ENTITY a "AAAA">]>'
        '<opml version="2.0"><body><outline text="&a;" xmlUrl="https://x.org/f"/></body></opml>'
    )
    with pytest.raises(OpmlError, match="declares a DTD or entities"):
        read_opml(text.encode("utf-16"))


def test_export_keeps_every_source_and_import_names_what_it_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15: Telegram channels were dropped, enabled = false lost, the count untrue."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[[sources]]\nname = "meduza-ru"\nurl = "https://meduza.io/rss/all"\nenabled = false\n'
        '[[sources]]\nname = "tg-rybar"\nkind = "telegram"\nchannel = "rybar"\n'
        '[[destinations]]\nname = "console"\nkind = "console"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.opml"
    assert main(["sources", "export", "--config", str(config), "-o", str(out)]) == 0
    assert "wrote 2 sources" in capsys.readouterr().err
    exported = read_opml(out.read_bytes())
    assert [(f.url, f.kind, f.enabled) for f in exported] == [
        ("https://meduza.io/rss/all", "rss", False),
        ("https://t.me/s/rybar", "telegram", True),
    ]
    fresh = tmp_path / "fresh.toml"
    fresh.write_text(
        '[[sources]]\nname = "meduza"\nurl = "https://meduza.io/rss/all"\nenabled = false\n'
        '[[destinations]]\nname = "console"\nkind = "console"\n',
        encoding="utf-8",
    )
    assert main(["sources", "import", str(out), "--config", str(fresh)]) == 0
    said = capsys.readouterr()
    assert "skipped meduza-ru: already there as meduza (disabled there" in said.err
    assert "added 1 sources" in said.out
    settings = load_config(fresh)
    rybar = next(s for s in settings.sources if s.url == "https://t.me/s/rybar")
    assert rybar.kind == "telegram" and rybar.enabled
    meduza = next(s for s in settings.sources if s.name == "meduza")
    assert not meduza.enabled


def test_a_file_feed_is_named_on_import_and_the_round_trip_counts_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first-hour walk (issue 15): export wrote 14 sources, import of that file read
    "10 feeds, all already in config.toml": the 4 file: samples were dropped unsaid."""
    sample = tmp_path / "sample.rss"
    sample.write_text("<rss/>", "utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        '[[sources]]\nname = "meduza-ru"\nurl = "https://meduza.io/rss/all"\n'
        '[[sources]]\nname = "sample"\nurl = "file:sample.rss"\n'
        '[[destinations]]\nname = "console"\nkind = "console"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.opml"
    assert main(["sources", "export", "--config", str(config), "-o", str(out)]) == 0
    assert "wrote 2 sources" in capsys.readouterr().err
    assert main(["sources", "import", str(out), "--config", str(config)]) == 0
    printed = capsys.readouterr()
    assert f"{out}: 2 feeds, all already in {config}" in printed.out
    assert "skipped sample: already there as sample" in printed.err

    other = tmp_path / "other.opml"
    other.write_text(
        '<opml version="2.0"><body><outline text="notes" xmlUrl="file:///etc/notes.rss"/>'
        "</body></opml>",
        "utf-8",
    )
    before = config.read_text("utf-8")
    assert main(["sources", "import", str(other), "--config", str(config)]) == 0
    printed = capsys.readouterr()
    assert "skipped notes: not an http(s) feed (file:///etc/notes.rss)" in printed.err
    assert "1 feed, none added (0 already there)" in printed.out
    assert config.read_text("utf-8") == before

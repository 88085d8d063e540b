"""``python -m bot ...`` is ``dozor ...`` (the command line: bot/cli.py).

The Makefile and the systemd unit start the bot this way because the feed-parsing
worker processes then import only the parsers (about 40 MB each), not the whole bot a
second time, as they do under the ``dozor`` script (about 70 MB each)."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())

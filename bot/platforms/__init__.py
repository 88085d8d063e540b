"""Chat platforms: one package each behind the ``Platform`` interface
(``bot/platforms/base.py``), and the registry the app, the config and the commands
loop over.  Adding a platform: its package, and one line below.  Shared adapter code
(send/edit skeleton, button redraw, command parsing) is ``bot/platforms/shared.py``."""

from __future__ import annotations

from importlib import import_module

from bot.platforms.base import Platform

PACKAGES = (  # one line per platform; the order is the order config problems are listed in
    "bot.platforms.console",
    "bot.platforms.telegram",
    "bot.platforms.slack",
    "bot.platforms.matrix",
    "bot.platforms.email",
)

PLATFORMS: list[Platform] = [import_module(name).PLATFORM for name in PACKAGES]


def register(platform: Platform) -> None:
    """Add a platform defined elsewhere (a plug-in, a test); its name must be new."""
    if find(platform.name) is not None:
        raise ValueError(f"a platform named {platform.name!r} is already registered")
    PLATFORMS.append(platform)


def unregister(name: str) -> None:
    PLATFORMS[:] = [p for p in PLATFORMS if p.name != name]


def find(name: str) -> Platform | None:
    return next((p for p in PLATFORMS if p.name == name), None)


def names() -> tuple[str, ...]:
    return tuple(p.name for p in PLATFORMS)

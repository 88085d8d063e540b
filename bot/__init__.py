"""Dozor (дозор, "the watch"): a monitoring bot for newsrooms and OSINT teams."""

__version__ = "0.1.0"

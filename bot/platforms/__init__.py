"""Chat platforms: one package each (see ``bot.platforms.base``), and their registry."""

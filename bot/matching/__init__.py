"""The "Item -> Match" stage: which watch rules an item fires, and where.

    watchers -> Item -> matching -> Match -> routing -> Alert -> outbox -> adapters

Pure functions over ``bot.model`` types: imports only ``bot.model`` (and the standard
library); no I/O except ``load_rule_files``, which reads the team's rule files.

- ``normalize``: the tokenizer shared by terms and text (case, ё/е, hyphens);
- ``matcher``: ``Matcher(rules).match(item) -> list[Match]``;
- ``rulefiles``: ``rules/*.toml`` -> validated ``Rule``s, errors with file and line.
"""

from bot.matching.matcher import Matcher, Pattern, TermError, check_term, compile_term, match_rule
from bot.matching.normalize import Token, normalize_term, normalize_word, tokenize
from bot.matching.rulefiles import RULE_KEYS, RuleLoad, load_rule_files

__all__ = [
    "RULE_KEYS",
    "Matcher",
    "Pattern",
    "RuleLoad",
    "TermError",
    "Token",
    "check_term",
    "compile_term",
    "load_rule_files",
    "match_rule",
    "normalize_term",
    "normalize_word",
    "tokenize",
]

"""The "Item -> Match" stage: which watch rules an item fires, and where.

    watchers -> Item -> matching -> Match -> routing -> Alert -> outbox -> adapters

Pure functions over ``bot.model`` types: imports only ``bot.model``, ``bot.schedules``
(``rulefiles`` checks a rule's ``digest`` with it; pure too) and third-party text
libraries; no I/O except the rule files and ``cache``'s one file.  Modules, in pipeline
order:

- ``query``: the rule language (``parse_query``; ``QueryError`` points at the position);
- ``normalize``: the folding that item text and terms share (case, ё/е, dashes,
  diacritics, look-alike letters, markup), keeping offsets into the original;
- ``inflect`` / ``translit``: a term's word forms and other-script spellings, at compile
  time only;
- ``automaton``: every rule's word and phrase forms in one Aho-Corasick automaton;
- ``fuzzy``: ``word~``, the words within a few typos of a term's forms;
- ``matcher``: ``Matcher(rules).match(item) -> list[Match]``, ``rule_from_query``;
- ``cache``: ``cached_matcher``, the compiled Matcher kept beside the store and read
  back at the next start (keyed by the rules, the code and the dictionaries);
- ``rulefiles``: ``rules/*.toml`` -> validated ``Rule``s (errors with file and line),
  and ``RuleFiles``, which reloads changed files and keeps a broken file's last good
  rules;
- ``forms``: the one place a term word's forms are put together (the matcher's keys);
  ``explain``: those forms for people, grouped, counted and with warnings.
"""

from bot.matching.matcher import Matcher, check_term, match_rule, rule_from_query
from bot.matching.normalize import Token, fold, normalize, normalize_term, tokenize
from bot.matching.query import QueryError, TermError, parse_query
from bot.matching.rulefiles import RULE_KEYS, RuleFiles, RuleLoad, load_rule_files

__all__ = [
    "RULE_KEYS",
    "Matcher",
    "QueryError",
    "RuleFiles",
    "RuleLoad",
    "TermError",
    "Token",
    "check_term",
    "fold",
    "load_rule_files",
    "match_rule",
    "normalize",
    "normalize_term",
    "parse_query",
    "rule_from_query",
    "tokenize",
]

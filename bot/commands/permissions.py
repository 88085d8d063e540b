"""Who may run which chat command where: the one check the registry makes first.

- The chats Dozor serves are the chats of its destinations on the caller's platform
  (config destinations and those /watch created) plus those its platform serves
  (``Platform.serves``: ``[telegram] chats``, ``[slack] channels``; the console always).
  A chat that /watch gave a destination stays served.
- Admins (``Platform.is_admin``: ``[telegram] admins`` / ``[slack] admins`` user ids;
  the console user) may do anything anywhere, their private chat (Slack: DM) with the
  bot included.  No line here names a platform: each is asked through the registry.
- In a served chat, members may run read-only commands and, when that platform's
  ``members_can_watch`` (default), add and end rules and mutes for that chat (and set
  its ``/languages``).  Only admins add and remove sources.  Anyone may ask for /help
  anywhere.

Privacy between chats: a chat sees and acts on its own things only.  An alert is the
chat's whose destination it went to (``/show``, ``/story``, its buttons); any other
number is answered exactly like one that does not exist.  A rule is the chat's when it
routes alerts there (``rules_of_chat``: chat rules made there, and file rules that the
rule file or ``[routes]`` send there); rules of other chats are neither listed nor
named nor suggested ("did you mean").  Mutes are per chat.  Admins may name any alert or
rule anywhere; listings (/rules, /stats, /sources' counts, /status' broken
destinations) cover every chat only in an admin's private chat with the bot (or the
console), since everyone in a group reads the answer.

Sources are the team's: every chat may name any of them (/sources, /mute).  What a chat
may *read* of their items (``/search`` over the archive) follows its rules: the sources
one of its rules watches (``sources_of_chat``: a rule's ``sources`` and ``tags``, and
``source:``/``tag:`` conditions that its whole query requires), i.e. those whose items
could alert the chat; every source when one of its rules has no such condition.  A chat
without rules reads none; an admin's private chat and the console read every source.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Sequence

from bot import platforms
from bot.commands.types import Invocation
from bot.matching import QueryError, parse_query
from bot.matching.query import And, Meta
from bot.model import Rule, Source
from bot.routing import destinations_for
from bot.runtime import Runtime


class Access(enum.Enum):
    ANYONE = "anyone"  # /help
    READ = "read"  # members of served chats: /rules, /sources, /status ...
    WATCH = "watch"  # members of served chats if members_can_watch: /watch, /mute ...
    ADMIN = "admin"  # admins only: /addsource, /removesource


def is_admin(ctx: Runtime, platform: str, user_id: int | str) -> bool:
    """What the platform says (``[telegram] admins``, ``[slack] admins``; the console
    user always); nobody on a platform that is not registered."""
    found = platforms.find(platform)
    return found is not None and found.is_admin(ctx.settings, user_id)


def is_served(ctx: Runtime, platform: str, chat_id: int | str | None) -> bool:
    """The platform serves the chat (its section's chats; the console), or a
    destination posts into it."""
    found = platforms.find(platform)
    if found is None:
        return False
    if found.serves(ctx.settings, chat_id):
        return True
    if chat_id is None:
        return False
    return any(d.platform == platform and d.address == str(chat_id) for d in ctx.destinations())


def refusal(
    ctx: Runtime,
    platform: str,
    chat_id: int | str | None,
    user_id: int | str,
    access: Access,
    action: str,
    *,
    private: bool = False,
) -> str | None:
    """Why this user may not ``action`` (e.g. "add sources") here, or None if they may."""
    if access is Access.ANYONE or is_admin(ctx, platform, user_id):
        return None
    found = platforms.find(platform)
    section, chats = (found.name, found.chats_key) if found else (platform, "chats")
    if not is_served(ctx, platform, chat_id):
        if private:
            return (
                "Dozor answers commands in a private chat only to its admins; use it in "
                f"your team's chat, or ask an admin to add your user id to [{section}] admins"
            )
        return (
            "this chat is not one Dozor serves; ask an admin to add its id to "
            f"[{section}] {chats} (this chat's id is {chat_id})"
        )
    if access is Access.READ:
        return None
    members_can_watch = found is not None and found.members_can_watch(ctx.settings)
    if access is Access.WATCH and members_can_watch:
        return None
    if access is Access.WATCH:
        return f"only admins may {action} here ([{section}] members_can_watch is false)"
    return f"only admins may {action}"


def chat_destinations(ctx: Runtime, chat: str) -> list[str]:
    """The names of the destinations that post into ``chat`` (a chat key), any topic."""
    return [d.name for d in ctx.destinations() if d.chat_key == chat]


def may_see_alert(
    ctx: Runtime, platform: str, user_id: int | str, chat: str, destination: str
) -> bool:
    """An admin, or anyone in the chat the alert went to (its ``destination``)."""
    return is_admin(ctx, platform, user_id) or destination in chat_destinations(ctx, chat)


def rules_of_chat(ctx: Runtime, chat: str) -> list[Rule]:
    """The rules whose alerts go to ``chat``, routed as the pipeline routes them."""
    here = set(chat_destinations(ctx, chat))
    default, per_rule = ctx.pipeline.default_route, ctx.pipeline.rule_routes
    return [r for r in ctx.rules() if here.intersection(destinations_for(r, default, per_rule))]


def rules_for(ctx: Runtime, inv: Invocation) -> Sequence[Rule]:
    """The rules a command here may name: every rule for an admin, else this chat's."""
    if is_admin(ctx, inv.platform, inv.user_id):
        return ctx.rules()
    return rules_of_chat(ctx, inv.chat)


def sees_every_chat(ctx: Runtime, inv: Invocation) -> bool:
    """Listings cover every chat: for an admin in a private chat or at the console."""
    found = platforms.find(inv.platform)
    private = found is not None and found.is_private(inv.chat_type)
    return private and is_admin(ctx, inv.platform, inv.user_id)


def sources_of_chat(ctx: Runtime, inv: Invocation) -> list[str] | None:
    """The names of the sources whose items this chat may read (see the module
    docstring); None: every source, and items of sources since removed."""
    if sees_every_chat(ctx, inv):
        return None
    filters = [(r, _conditions(r)) for r in rules_of_chat(ctx, inv.chat)]
    if any(not r.sources and not r.tags and not metas for r, metas in filters):
        return None
    return [s.name for s in ctx.sources() if any(_watches(r, m, s) for r, m in filters)]


def _conditions(rule: Rule) -> list[Meta]:
    """The ``source:``/``tag:`` conditions the rule's whole query requires."""
    if not rule.query.strip():
        return []
    try:
        root = parse_query(rule.query).root
    except QueryError:
        return []
    items = root.items if isinstance(root, And) else (root,)
    return [i for i in items if isinstance(i, Meta) and i.kind in ("source", "tag")]


def _watches(rule: Rule, conditions: list[Meta], source: Source) -> bool:
    """Whether ``rule`` (with its query's ``conditions``) may match items of ``source``."""
    name, tags = source.name.casefold(), {t.casefold() for t in source.tags}
    if rule.sources and not any(fnmatch.fnmatchcase(name, s.casefold()) for s in rule.sources):
        return False
    if rule.tags and not tags & {t.casefold() for t in rule.tags}:
        return False
    for meta in conditions:
        if meta.kind == "source" and not fnmatch.fnmatchcase(name, meta.value):
            return False
        if meta.kind == "tag" and meta.value not in tags:
            return False
    return True

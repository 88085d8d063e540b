"""Store, chat state: what chat commands added and set (bot/commands).

Rules added with /watch, mutes (routing reads the active ones), destinations made by
chat commands, chat ids that changed (a group upgraded to a supergroup), and what a
chat set for itself (``/languages``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.model import Destination, Mute, Rule
from bot.store.connection import Concern
from bot.store.rows import from_iso, iso


@dataclass(frozen=True)
class ChatRule:
    """A rule added with /watch: stored here, not in a file."""

    rule: Rule
    query: str
    destination: str
    chat: str
    created_by: str
    created_at: datetime


class Chats(Concern):
    changes = 0  # writes of chat rules and destinations so far (``Store.chat_state``)

    def add_chat_rule(self, rule: ChatRule) -> bool:
        """False when a rule of that name exists already."""
        self.changes += 1
        with self._tx():
            cursor = self.db.execute(
                "insert or ignore into chat_rules (name, query, rule, destination, chat,"
                " created_by, created_at) values (?, ?, ?, ?, ?, ?, ?)",
                [
                    rule.rule.name,
                    rule.query,
                    json.dumps(
                        {
                            "any": rule.rule.any,
                            "all": rule.rule.all,
                            "none": rule.rule.none,
                            "query": rule.rule.query,
                            "options": {
                                "translit": rule.rule.translit,
                                "derived": rule.rule.derived,
                                "english_forms": rule.rule.english_forms,
                                "inflect": rule.rule.inflect,
                                "languages": rule.rule.languages,
                            },
                        },
                        ensure_ascii=False,
                    ),
                    rule.destination,
                    rule.chat,
                    rule.created_by,
                    iso(rule.created_at),
                ],
            )
            return bool(cursor.rowcount)

    def remove_chat_rule(self, name: str) -> bool:
        self.changes += 1
        with self._tx():
            return bool(self.db.execute("delete from chat_rules where name = ?", [name]).rowcount)

    def chat_rules(self) -> list[ChatRule]:
        out = []
        for r in self.db.query("select * from chat_rules order by created_at"):
            terms = json.loads(r["rule"])
            rule = Rule(
                name=r["name"],
                any=tuple(terms["any"]),
                all=tuple(terms["all"]),
                none=tuple(terms["none"]),
                query=terms.get("query") or "",
                destinations=(r["destination"],),
                description=f"/watch {r['query']}",
                origin="chat",
                **{
                    k: tuple(v) if k == "languages" else bool(v)
                    for k, v in (terms.get("options") or {}).items()
                },
            )
            out.append(
                ChatRule(
                    rule,
                    r["query"],
                    r["destination"],
                    r["chat"],
                    r["created_by"],
                    from_iso(r["created_at"]) or datetime.now(UTC),
                )
            )
        return out

    def add_mute(
        self, chat: str, kind: str, target: str, until: datetime, by: str, now: datetime
    ) -> Mute:
        with self._tx():
            cursor = self.db.execute(
                "insert into mutes (chat, kind, target, until, created_by, created_at, undone)"
                " values (?, ?, ?, ?, ?, ?, 0)",
                [chat, kind, target, iso(until), by, iso(now)],
            )
        return Mute(int(cursor.lastrowid or 0), chat, kind, target, until, by)

    def undo_mute(self, mute_id: int) -> Mute | None:
        rows = list(self.db.query("select * from mutes where id = ?", [mute_id]))
        with self._tx():
            self.db.execute("update mutes set undone = 1 where id = ?", [mute_id])
        return _mute(rows[0]) if rows else None

    def unmute(self, chat: str, target: str, now: datetime) -> int:
        """End every active mute of ``target`` in ``chat``; returns how many."""
        with self._tx():
            return self.db.execute(
                "update mutes set undone = 1 where chat = ? and target = ? and undone = 0"
                " and until > ?",
                [chat, target, iso(now)],
            ).rowcount

    def active_mutes(self, now: datetime, chat: str | None = None) -> list[Mute]:
        sql = "select * from mutes where undone = 0 and until > ?"
        args: list[Any] = [iso(now)]
        if chat is not None:
            sql += " and chat = ?"
            args.append(chat)
        return [_mute(r) for r in self.db.query(sql + " order by until", args)]

    def chat_destination(
        self, platform: str, address: int | str, thread: int | str | None, now: datetime
    ) -> str:
        """The name of the destination for this chat (and topic or thread) of this
        platform, created on first use; the platform is recorded, not guessed."""
        name = f"{platform}:{address}" + (f":{thread}" if thread else "")
        self.changes += 1
        with self._tx():
            self.db.execute(
                "insert or ignore into chat_destinations (name, kind, address, thread,"
                " created_at) values (?, ?, ?, ?, ?)",
                [name, platform, str(address), None if thread is None else str(thread), iso(now)],
            )
        return name

    def chat_destinations(self) -> list[Destination]:
        return [
            Destination(r["name"], r["kind"], r["address"], r["thread"])
            for r in self.db.query("select * from chat_destinations order by name")
        ]

    def set_destination_address(self, name: str, address: str) -> None:
        """Remember a destination's new address (a group upgraded to a supergroup)."""
        self.changes += 1
        with self._tx():
            self.db.execute(
                "insert into destination_state (name, address) values (?, ?)"
                " on conflict(name) do update set address = excluded.address",
                [name, address],
            )
            self.db.execute(
                "update chat_destinations set address = ? where name = ?", [address, name]
            )

    def destination_addresses(self) -> dict[str, str]:
        return {
            r["name"]: r["address"]
            for r in self.db.query("select name, address from destination_state where address")
        }

    def set_destination_languages(self, name: str, languages: tuple[str, ...]) -> None:
        """What the rules that this destination's chat adds inflect in (``/languages``)."""
        with self._tx():
            self.db.execute(
                "insert into destination_settings (name, languages) values (?, ?)"
                " on conflict(name) do update set languages = excluded.languages",
                [name, json.dumps(languages)],
            )

    def destination_languages(self, name: str) -> tuple[str, ...] | None:
        """What ``/languages`` set for this destination; None: never set."""
        rows = self.db.query(
            "select languages from destination_settings where name = ? and languages is not null",
            [name],
        )
        return next((tuple(json.loads(r["languages"])) for r in rows), None)


def _mute(r: dict[str, Any]) -> Mute:
    return Mute(
        r["id"],
        r["chat"],
        r["kind"],
        r["target"],
        from_iso(r["until"]) or datetime.now(UTC),
        r["created_by"],
    )

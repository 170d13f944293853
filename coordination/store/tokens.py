"""Bearer tokens: created once and shown once, stored only as a SHA-256 hash.

A field token belongs to a staff member (its ``staff_id``) and follows them as the log has
them: revoked when they are deactivated (for good: the log has no way back) or were never
registered, moved to their new unit when they are moved.

Every API request resolves its token (``TokenStore.lookup``), so each process keeps what it
read for at most ``TOKEN_CACHE_SECONDS``: a token revoked or moved elsewhere (another worker,
the CLI) is refused or moved in every process within that time; one revoked or moved in this
process, at once. Redis stays the only truth: nothing is cached longer, nothing is written back.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from redis import Redis

from coordination.domain.access import Actor, Role
from coordination.domain.errors import DomainError
from coordination.domain.staff import StaffMember
from coordination.store import keys

PREFIX = "cdn_"
REVOKE = "revoke"
MOVE = "move"
log = logging.getLogger(__name__)

# How long a process may answer from what it read: a revocation reaches every API worker
# within this (plus a request's own time), well within the second the API promises.
TOKEN_CACHE_SECONDS = 0.5
TOKEN_CACHE_SIZE = 10_000  # entries (a digest and a token each): a few MB at most


@dataclass(frozen=True)
class Token:
    id: str
    role: Role
    unit: str
    name: str
    staff_id: str = ""  # a field token's staff member; other roles belong to nobody

    @property
    def actor(self) -> Actor:
        """Who acts: a field token's staff member (their claims record them), else its name."""
        return Actor(subject=self.staff_id or self.name, role=self.role, unit=self.unit)


@dataclass(frozen=True)
class TokenChange:
    """What becomes of a field token whose member the log shows elsewhere or gone."""

    token: Token
    action: str  # REVOKE or MOVE
    reason: str
    unit: str = ""  # where a moved token reaches now


def follow(token: Token, member: StaffMember | None) -> TokenChange | None:
    """The change that brings a field token in line with its staff member, if any is due."""
    if token.role is not Role.FIELD:
        return None
    if member is None or not member.id:
        return TokenChange(token, REVOKE, f"{token.staff_id} is not a registered staff member")
    if not member.active:
        return TokenChange(token, REVOKE, f"{member.id} is deactivated")
    if member.unit != token.unit:
        return TokenChange(token, MOVE, f"{member.id} moved to {member.unit}", member.unit)
    return None


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# The process's cache, shared by its stores so that a revocation by any of them drops the
# entry: (the Redis server, the secret's SHA-256 digest) -> (when the read began, the token or
# None). Keyed by the digest: no secret is kept. An unknown or revoked secret is cached (as
# None) for the same short time, so a client repeating a bad token costs Redis one GET per
# TOKEN_CACHE_SECONDS, not one per request. Bounded: past TOKEN_CACHE_SIZE the least recently
# used entry goes (expired ones first). The monotonic clock: a wall clock step changes nothing.
_cache: TTLCache[tuple[Hashable, str], tuple[float, Token | None]] = TTLCache(
    maxsize=TOKEN_CACHE_SIZE, ttl=TOKEN_CACHE_SECONDS, timer=time.monotonic
)
# Held only around the cache's own bookkeeping, never across I/O: safe in gthread workers, and
# under gevent (monkey-patched or not, nothing inside yields, so no greenlet waits on it).
_lock = threading.Lock()
# Counts the drops (revoke, move): a read that began before one is not cached, lest a token
# revoked while its GET was on the wire come back for TOKEN_CACHE_SECONDS.
_drops = 0


def _server(redis: Redis) -> Hashable:
    """Which server a client reads: one process may talk to several (tests do)."""
    pool = getattr(redis, "connection_pool", None)
    found = getattr(pool, "connection_kwargs", None)
    if not isinstance(found, dict):
        return ("client", id(redis))
    return tuple(str(found.get(name, "")) for name in ("host", "port", "path", "db"))


class TokenStore:
    def __init__(self, redis: Redis, cache_seconds: float = TOKEN_CACHE_SECONDS) -> None:
        """``cache_seconds``: how old a cached lookup may be, 0 to read Redis every time; at
        most TOKEN_CACHE_SECONDS (the cache keeps nothing longer)."""
        if not 0 <= cache_seconds <= TOKEN_CACHE_SECONDS:
            raise ValueError(f"cache_seconds must be within 0..{TOKEN_CACHE_SECONDS}")
        self.redis = redis
        self.cache_seconds = cache_seconds
        self._server = _server(redis)

    def create(
        self, role: Role, unit: str, name: str, staff_id: str | None = None
    ) -> tuple[str, Token]:
        """A new token; the secret is returned here and never again. A field token belongs
        to ``staff_id`` (by default its name); no other role belongs to a staff member."""
        if role is not Role.FIELD and staff_id:
            raise ValueError(f"only a field token has a staff member, not a {role.value} token")
        secret = PREFIX + secrets.token_urlsafe(32)
        member = (staff_id or name) if role is Role.FIELD else ""
        token = Token("tok_" + secrets.token_hex(6), role, unit, name, member)
        digest = hash_token(secret)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.token(digest), _record(token))
            pipe.hset(keys.tokens_index(), token.id, digest)
            pipe.execute()
        return secret, token

    def lookup(self, secret: str, *, fresh: bool = False) -> Token | None:
        """The secret's token, or None (unknown or revoked). As Redis had it at most
        ``cache_seconds`` ago; ``fresh``: as it has it now (and cached anew)."""
        digest = hash_token(secret)
        if self.cache_seconds <= 0:
            return self._read(digest)
        key = (self._server, digest)
        with _lock:
            drops = _drops
            hit = None if fresh else _cache.get(key)
        began = time.monotonic()
        if hit is not None and began - hit[0] < self.cache_seconds:
            return hit[1]
        token = self._read(digest)  # a broken record raises, and is not cached
        with _lock:
            if drops == _drops:
                _cache[key] = (began, token)
        return token

    def _read(self, digest: str) -> Token | None:
        raw = self.redis.get(keys.token(digest))
        return None if raw is None else _token(raw)

    def _drop(self, digest: str) -> None:
        """Forget the digest's token in this process, now (other processes within
        TOKEN_CACHE_SECONDS)."""
        global _drops
        with _lock:
            _drops += 1
            _cache.pop((self._server, digest), None)

    def list(self) -> list[Token]:
        digests = self.redis.hvals(keys.tokens_index())
        if not digests:
            return []
        raws = self.redis.mget([keys.token(_text(d)) for d in digests])
        return sorted((_token(r) for r in raws if r is not None), key=lambda t: t.id)

    def revoke(self, token_id: str) -> bool:
        digest = self.redis.hget(keys.tokens_index(), token_id)
        if digest is None:
            return False
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.token(_text(digest)))
            pipe.hdel(keys.tokens_index(), token_id)
            pipe.execute()
        self._drop(_text(digest))
        return True

    def move(self, token: Token, unit: str) -> bool:
        """Let the token reach ``unit`` instead; False if it is gone (revoked meanwhile)."""
        digest = self.redis.hget(keys.tokens_index(), token.id)
        if digest is None:
            return False
        moved = Token(token.id, token.role, unit, token.name, token.staff_id)
        # XX: a token revoked since it was read is not written back.
        done = bool(self.redis.set(keys.token(_text(digest)), _record(moved), xx=True))
        self._drop(_text(digest))
        return done

    def sweep(
        self,
        member_of: Callable[[Actor], StaffMember | None],
        staff_id: str | None = None,
    ) -> builtins.list[TokenChange]:
        """Revoke or move every field token (of ``staff_id``, or all) whose member, as
        ``member_of`` reads them from the log, is gone or elsewhere; the changes made."""
        members: dict[tuple[str, str], StaffMember | None] = {}
        done: builtins.list[TokenChange] = []
        for token in self.list():
            if token.role is not Role.FIELD or staff_id not in (None, token.staff_id):
                continue
            actor = token.actor
            try:
                if (actor.unit, actor.subject) not in members:
                    members[actor.unit, actor.subject] = member_of(actor)
            except DomainError as exc:  # a unit the jurisdiction no longer has, say
                log.warning("token %s: cannot read its member: %s", token.id, exc)
                continue
            change = follow(token, members[actor.unit, actor.subject])
            if change is not None and self._apply(change):
                log.info("token %s: %s (%s)", token.id, change.action, change.reason)
                done.append(change)
        return done

    def _apply(self, change: TokenChange) -> bool:
        if change.action == REVOKE:
            return self.revoke(change.token.id)
        return self.move(change.token, change.unit)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _record(token: Token) -> str:
    data: dict[str, Any] = {
        "id": token.id,
        "role": token.role.value,
        "unit": token.unit,
        "name": token.name,
    }
    if token.staff_id:
        data["staff_id"] = token.staff_id
    return json.dumps(data, ensure_ascii=False)


def _token(raw: bytes | str) -> Token:
    data = json.loads(raw)
    role = Role(data["role"])
    # Field tokens made before staff ids were stored belong to their name (the CLI checked it).
    staff_id = data.get("staff_id", data["name"] if role is Role.FIELD else "")
    return Token(data["id"], role, data["unit"], data["name"], staff_id)

"""Bearer tokens: created once and shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

from redis import Redis

from coordination import keys
from coordination.domain.access import Actor, Role

PREFIX = "cdn_"


@dataclass(frozen=True)
class Token:
    id: str
    role: Role
    unit: str
    name: str

    @property
    def actor(self) -> Actor:
        return Actor(subject=self.name, role=self.role, unit=self.unit)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def create(self, role: Role, unit: str, name: str) -> tuple[str, Token]:
        """A new token; the secret is returned here and never again."""
        secret = PREFIX + secrets.token_urlsafe(32)
        token = Token(id="tok_" + secrets.token_hex(6), role=role, unit=unit, name=name)
        record = json.dumps(
            {"id": token.id, "role": role.value, "unit": unit, "name": name}, ensure_ascii=False
        )
        digest = hash_token(secret)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.token(digest), record)
            pipe.hset(keys.tokens_index(), token.id, digest)
            pipe.execute()
        return secret, token

    def lookup(self, secret: str) -> Token | None:
        raw = self.redis.get(keys.token(hash_token(secret)))
        return None if raw is None else _token(raw)

    def list(self) -> list[Token]:
        digests = self.redis.hvals(keys.tokens_index())
        if not digests:
            return []
        raws = self.redis.mget([keys.token(d.decode()) for d in digests])
        return sorted((_token(r) for r in raws if r is not None), key=lambda t: t.id)

    def revoke(self, token_id: str) -> bool:
        digest = self.redis.hget(keys.tokens_index(), token_id)
        if digest is None:
            return False
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.token(digest.decode()))
            pipe.hdel(keys.tokens_index(), token_id)
            pipe.execute()
        return True


def _token(raw: bytes) -> Token:
    data = json.loads(raw)
    return Token(id=data["id"], role=Role(data["role"]), unit=data["unit"], name=data["name"])

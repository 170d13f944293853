"""Each process keeps the tokens it resolved for at most ``TOKEN_CACHE_SECONDS``: a repeated
lookup does not reach Redis, a change made elsewhere (another process) is seen within that time,
and one made in this process (``revoke``, ``move``, by any store) at once. Against the
session's real server, counting its GET commands (``INFO commandstats``); nothing mocked.

Every API worker refusing a revoked token within a second:
tests/e2e/test_token_revocation_workers.py.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis as redis_lib

from coordination.domain.access import Role
from coordination.store import keys, tokens
from coordination.store.tokens import TOKEN_CACHE_SECONDS, TokenStore, hash_token

ROOT = Path(__file__).resolve().parents[2]
DISTRICT = "gangwen"
LIDU = "gangwen/chenqiao/lidu"
HUAQIAO = "gangwen/chenqiao/huaqiao"


def gets(redis: redis_lib.Redis) -> int:
    """GET commands the server has run so far (every client's)."""
    stats = redis.info("commandstats").get("cmdstat_get", {})
    return int(stats.get("calls", 0))


def unknown() -> str:
    return tokens.PREFIX + secrets.token_urlsafe(32)


@pytest.fixture
def store(redis: redis_lib.Redis) -> TokenStore:
    return TokenStore(redis)


def test_a_hit_does_not_reach_redis(store: TokenStore, redis: redis_lib.Redis) -> None:
    secret, token = store.create(Role.DISPATCHER, DISTRICT, "dispatcher")
    before = gets(redis)
    assert store.lookup(secret) == token
    assert gets(redis) == before + 1
    for _ in range(50):
        assert store.lookup(secret) == token
    assert gets(redis) == before + 1, "repeated lookups within the TTL are answered in-process"
    # Another store of the same process, on the same server, shares what was read.
    assert TokenStore(redis).lookup(secret) == token
    assert gets(redis) == before + 1


def test_an_entry_lives_at_most_the_ttl(store: TokenStore, redis: redis_lib.Redis) -> None:
    secret, token = store.create(Role.FIELD, LIDU, "li.gang")
    read = time.monotonic()
    assert store.lookup(secret) == token
    # Another process moves it (what TokenStore.move writes), unseen by this one's cache:
    record = json.loads(redis.get(keys.token(hash_token(secret))))  # type: ignore[arg-type]
    redis.set(keys.token(hash_token(secret)), json.dumps({**record, "unit": HUAQIAO}))
    found = store.lookup(secret)
    assert found is not None
    if time.monotonic() - read < TOKEN_CACHE_SECONDS:  # not delayed past the TTL meanwhile
        assert found.unit == LIDU, "read again although still fresh"
    time.sleep(TOKEN_CACHE_SECONDS)
    before = gets(redis)
    moved = store.lookup(secret)
    assert moved is not None and moved.unit == HUAQIAO
    assert gets(redis) == before + 1


def test_revoke_and_move_drop_the_entry_in_this_process_at_once(
    store: TokenStore, redis: redis_lib.Redis
) -> None:
    secret, token = store.create(Role.FIELD, LIDU, "li.gang")
    other = TokenStore(redis)  # another store of the process (a job, the CLI): shares the cache
    assert store.lookup(secret) == token and other.lookup(secret) == token

    assert other.move(token, HUAQIAO)
    moved = store.lookup(secret)
    assert moved is not None and moved.unit == HUAQIAO

    assert other.revoke(token.id)
    assert store.lookup(secret) is None
    assert other.lookup(secret) is None
    assert not store.move(token, LIDU), "a revoked token is not brought back"
    assert store.lookup(secret) is None


def test_an_unknown_secret_is_refused_and_its_refusal_cached_as_briefly(
    store: TokenStore, redis: redis_lib.Redis
) -> None:
    bad = unknown()
    before = gets(redis)
    for _ in range(20):
        assert store.lookup(bad) is None
    assert gets(redis) == before + 1, "a flood of one bad token costs one GET per TTL"
    time.sleep(TOKEN_CACHE_SECONDS)
    assert store.lookup(bad) is None
    assert gets(redis) == before + 2
    assert store.lookup("") is None and store.lookup(unknown()) is None


def test_the_cache_keeps_no_secret_and_is_bounded(store: TokenStore) -> None:
    secret, _ = store.create(Role.VIEWER, DISTRICT, "wall")
    store.lookup(secret)
    store.lookup(unknown())
    with tokens._lock:
        cached = list(tokens._cache.items())
    assert cached
    assert all(secret not in repr(key) + repr(value) for key, value in cached)
    assert any(key[1] == hash_token(secret) for key, _ in cached)
    assert tokens._cache.maxsize == tokens.TOKEN_CACHE_SIZE


def test_fresh_and_uncached_lookups_read_redis(store: TokenStore, redis: redis_lib.Redis) -> None:
    secret, token = store.create(Role.VIEWER, DISTRICT, "wall")
    store.lookup(secret)
    before = gets(redis)
    assert store.lookup(secret, fresh=True) == token
    assert TokenStore(redis, cache_seconds=0).lookup(secret) == token
    assert gets(redis) == before + 2
    with pytest.raises(ValueError, match="cache_seconds"):
        TokenStore(redis, cache_seconds=TOKEN_CACHE_SECONDS * 2)


def test_a_broken_record_is_not_cached(store: TokenStore, redis: redis_lib.Redis) -> None:
    secret, _ = store.create(Role.VIEWER, DISTRICT, "broken")
    redis.set(keys.token(hash_token(secret)), b"{not json")
    for _ in range(2):
        with pytest.raises(json.JSONDecodeError):
            store.lookup(secret)


def test_another_process_moving_and_revoking_is_seen_within_the_ttl(
    store: TokenStore, redis: redis_lib.Redis, redis_url: str
) -> None:
    secret, token = store.create(Role.FIELD, LIDU, "li.gang")
    # Requests keep resolving the token meanwhile, so its entry is always fresh here.
    seen: dict[str, float] = {}  # state -> when first seen (monotonic)
    stop = threading.Event()

    def requests() -> None:
        while not stop.is_set():
            found = store.lookup(secret)
            state = "revoked" if found is None else found.unit
            seen.setdefault(state, time.monotonic())
            time.sleep(0.002)

    def elsewhere(action: str) -> float:
        """Run ``action`` on the token in another process; when it was done (monotonic)."""
        code = (
            "import sys; from redis import Redis\n"
            "from coordination.store.tokens import TokenStore\n"
            "store = TokenStore(Redis.from_url(sys.argv[1]))\n"
            "token = next(t for t in store.list() if t.id == sys.argv[2])\n"
            f"assert {action}\n"
        )
        subprocess.run(
            [sys.executable, "-c", code, redis_url, token.id], cwd=ROOT, check=True, timeout=60
        )
        return time.monotonic()

    def delay(state: str, done: float) -> float:
        while state not in seen:
            assert time.monotonic() - done < 5, f"{state} never seen"
            time.sleep(0.005)
        return seen[state] - done

    poller = threading.Thread(target=requests)
    poller.start()
    try:
        done = elsewhere(f"store.move(token, {HUAQIAO!r})")
        assert delay(HUAQIAO, done) <= TOKEN_CACHE_SECONDS + 0.05
        done = elsewhere("store.revoke(token.id)")
        assert delay("revoked", done) <= TOKEN_CACHE_SECONDS + 0.05
    finally:
        stop.set()
        poller.join()
    assert set(seen) == {LIDU, HUAQIAO, "revoked"}


def test_concurrent_lookups_and_a_revocation(store: TokenStore, redis: redis_lib.Redis) -> None:
    secret, token = store.create(Role.DISPATCHER, DISTRICT, "dispatcher")
    revoked = threading.Event()
    wrong: list[str] = []

    def request() -> None:
        for _ in range(300):
            after = revoked.is_set()
            found = store.lookup(secret)
            if after and found is not None:
                wrong.append("a token revoked in this process was still resolved")
            elif not after and found not in (token, None):
                wrong.append(f"resolved as {found}")

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.01)
    assert store.revoke(token.id)
    revoked.set()
    for thread in threads:
        thread.join()
    assert not wrong, wrong[:3]
    assert store.lookup(secret) is None

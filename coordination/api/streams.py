"""Server-sent event streams for the dashboard.

``GET /dashboard/stream?token=...`` (EventSource cannot send headers) sends ``event: position``
(``{"partition", "generation", "position"}``, the projections' checkpoint) at once, then
whenever something in the token's unit's subtree changed, a comment every ~15 s otherwise, and
ends after 10 minutes (the browser reconnects).

A stream is cheap to hold. One poller per process (a thread, or a greenlet under gevent) reads
each watched partition's generation, checkpoint and per-unit change hash
(``ReadModels.unit_changes``: unit -> the last position at which an order of its subtree
changed)
every ~200 ms, and wakes only the streams whose unit's subtree moved; every ~0.5 s it looks up
each open stream's token (``TokenStore.lookup``) and ends the streams of a revoked one. Open
streams are capped per token across processes (a Redis sorted set per token of stream ids
scored by when they lapse, renewed by the poller, so a crashed process's streams stop counting
within ``SLOT_LEASE_SECONDS``) and per process (``DASHBOARD_MAX_STREAMS``, which the worker hook
sets from the gunicorn worker: coordination/serving/hooks.py); past either, ``429`` in the JSON
error shape with ``Retry-After``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from redis import Redis

from coordination.domain.units import Jurisdiction
from coordination.projections.reads import ReadModels
from coordination.store.keys import stream_slots_key
from coordination.store.tokens import Token, TokenStore

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
TOKEN_CHECK_SECONDS = 0.5  # a revoked token's streams end within a second
HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 600.0
WAKE_SECONDS = 1.0  # a stream looks at its client and its token at least this often
STALE_SECONDS = 3.0  # a stream whose token could not be checked for this long ends
STREAMS_PER_TOKEN = 4  # DASHBOARD_STREAMS_PER_TOKEN: a wall screen or two, a few tabs
MAX_STREAMS = 100  # DASHBOARD_MAX_STREAMS: per process, unless the worker hook sets it
SLOT_LEASE_SECONDS = 10.0
RETRY_AFTER_SECONDS = 5


# KEYS[1] the token's slots; ARGV: now, lapses at, stream id, cap, key TTL (s). 1 if admitted.
ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


@dataclass(eq=False)
class Subscription:
    """One open stream, as the poller sees it."""

    partition: str
    unit: str  # the token's
    units: frozenset[str]  # the unit and every unit below it
    secret: str
    token_id: str
    stream_id: str
    seen: tuple[int, int, int] = (0, 0, 0)  # generation, last change in the subtree, checkpoint
    revoked: bool = False
    checked: float = field(default_factory=time.monotonic)  # when the token was last found
    event: threading.Event = field(default_factory=threading.Event)


class StreamHub:
    """One per application (so one per worker process): the poller, and the caps."""

    def __init__(self, app: Flask) -> None:
        svc = app.extensions["coordination"]
        self.app = app
        self.reads: ReadModels = svc.reads
        self.redis: Redis = svc.reads.redis  # the streams' slots (the tokens' keys)
        self.tokens: TokenStore = svc.tokens
        self.stop = streams_stop(app)
        self._admit = self.redis.register_script(ADMIT)
        self._lock = threading.Lock()
        self._subs: set[Subscription] = set()
        self._open = 0
        self._thread: threading.Thread | None = None
        self._generations: dict[str, int] = {}
        self._tokens_checked = 0.0

    # --- caps --------------------------------------------------------------------------

    def admit(self, token: Token) -> tuple[str, str]:
        """Take a place for a new stream of ``token``: (its stream id, ""), or ("", why there
        is none)."""
        config = self.app.config
        most = int(config.get("DASHBOARD_MAX_STREAMS", MAX_STREAMS))
        per_token = int(config.get("DASHBOARD_STREAMS_PER_TOKEN", STREAMS_PER_TOKEN))
        with self._lock:
            if self._open >= most:
                return "", "This server holds as many dashboard streams as it can; retry later."
            self._open += 1
        stream_id = secrets.token_hex(8)
        now = time.time()
        try:
            admitted = self._admit(
                keys=[stream_slots_key(token.id)],
                args=[now, now + SLOT_LEASE_SECONDS, stream_id, per_token, lease_ttl()],
            )
        except BaseException:
            self._give_back()
            raise
        if not admitted:
            self._give_back()
            return "", (
                f"This token has {per_token} dashboard streams open already; close one "
                "(another tab or screen) or retry later."
            )
        return stream_id, ""

    def _give_back(self) -> None:
        with self._lock:
            self._open -= 1

    def release(self, token_id: str, stream_id: str) -> None:
        self._give_back()
        try:
            self.redis.zrem(stream_slots_key(token_id), stream_id)
        except Exception:  # it lapses by itself
            log.warning("could not release a dashboard stream's slot", exc_info=True)

    # --- the poller ----------------------------------------------------------------------

    def subscribe(
        self, jurisdiction: Jurisdiction, token: Token, secret: str, stream_id: str
    ) -> Subscription:
        """Watch the token's unit's subtree; its first state is read here, for the first
        event, and the poller runs while anything is watched."""
        unit = token.actor.unit
        sub = Subscription(
            partition=jurisdiction.district_of(unit),
            unit=unit,
            units=frozenset(u for u in jurisdiction.units if jurisdiction.within(u, unit)),
            secret=secret,
            token_id=token.id,
            stream_id=stream_id,
        )
        gen, checkpoint, changes = self.read(sub.partition)
        sub.seen = (gen, _latest(changes, sub.units), checkpoint)
        with self._lock:
            self._subs.add(sub)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dashboard-poller")
                self._thread.daemon = True
                self._thread.start()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def read(self, partition: str) -> tuple[int, int, dict[str, int]]:
        """(generation, checkpoint, unit -> last change) of a partition, read at one moment."""
        found = self.reads.unit_changes(partition, self._generations.get(partition))
        self._generations[partition] = found[0]
        return found

    def _run(self) -> None:
        while not self.stop.is_set():
            with self._lock:
                subs = list(self._subs)
                if not subs:
                    self._thread = None
                    return
            try:
                self.tick(subs)
            except Exception:
                log.warning("dashboard poller: reading the projections failed", exc_info=True)
            self.stop.wait(POLL_SECONDS)
        with self._lock:
            self._thread = None
            subs = list(self._subs)
        for sub in subs:
            sub.event.set()

    def tick(self, subs: list[Subscription]) -> None:
        by_partition: dict[str, list[Subscription]] = {}
        for sub in subs:
            by_partition.setdefault(sub.partition, []).append(sub)
        for partition, group in by_partition.items():
            gen, checkpoint, changes = self.read(partition)
            latest: dict[frozenset[str], int] = {}
            for sub in group:
                if sub.units not in latest:
                    latest[sub.units] = _latest(changes, sub.units)
                moved = (gen, latest[sub.units]) != sub.seen[:2]
                sub.seen = (gen, latest[sub.units], checkpoint)
                if moved:
                    sub.event.set()
        now = time.monotonic()
        if now - self._tokens_checked >= TOKEN_CHECK_SECONDS:
            self._tokens_checked = now
            self.check_tokens(subs, now)

    def check_tokens(self, subs: list[Subscription], now: float) -> None:
        """End the streams of revoked tokens (and of tokens moved to another unit: the
        browser reconnects, scoped anew); renew the others' slots."""
        # Fresh from Redis: a cached answer could add its age to this check's own period.
        held = {sub.secret for sub in subs}
        found = {secret: self.tokens.lookup(secret, fresh=True) for secret in held}
        valid = [sub for sub in subs if _unit_of(found[sub.secret]) == sub.unit]
        lapses = time.time() + SLOT_LEASE_SECONDS
        with self.redis.pipeline(transaction=False) as pipe:
            for sub in valid:
                pipe.zadd(stream_slots_key(sub.token_id), {sub.stream_id: lapses})
            for key in {stream_slots_key(sub.token_id) for sub in valid}:
                pipe.expire(key, lease_ttl())
            pipe.execute()
        for sub in valid:
            sub.checked = now
        for sub in set(subs).difference(valid):
            sub.revoked = True
            sub.event.set()


class EventStream:
    """The body of one stream: an iterable of event texts, and ``close()`` (called by the
    server when the response ends, however it ends) to give its place back."""

    def __init__(
        self,
        hub: StreamHub,
        sub: Subscription,
        lifetime: float,
        sock: Any = None,
        serving: Callable[[], bool] | None = None,
    ) -> None:
        self.hub = hub
        self.sub = sub
        self.lifetime = lifetime
        self.sock = sock
        self.serving = serving  # False once the server is stopping
        self._closed = False

    def __iter__(self) -> Iterator[str]:
        return self._events()

    def _events(self) -> Iterator[str]:
        sub, stop = self.sub, self.hub.stop
        yield "retry: 2000\n\n"
        started = last_sent = time.monotonic()
        sent: tuple[int, int] | None = None
        while True:
            sub.event.clear()
            now = time.monotonic()
            if sub.revoked or stop.is_set() or now - sub.checked > STALE_SECONDS:
                return
            gen, change, position = sub.seen
            if (gen, change) != sent:
                sent, last_sent = (gen, change), now
                data = json.dumps(
                    {"partition": sub.partition, "generation": gen, "position": position}
                )
                yield f"event: position\nid: {position}\ndata: {data}\n\n"
            elif now - last_sent >= HEARTBEAT_SECONDS:
                last_sent = now
                yield ": heartbeat\n\n"
            left = self.lifetime - (now - started)
            if self.serving is not None and not self.serving():
                # The worker is stopping: end, and let the connection close after the last
                # chunk rather than wait (kept alive) for a request that would come too late.
                if self.sock is not None:
                    with contextlib.suppress(OSError):
                        self.sock.shutdown(socket.SHUT_RD)
                return
            if left <= 0 or client_gone(self.sock):
                return
            sub.event.wait(min(WAKE_SECONDS, left, HEARTBEAT_SECONDS - (now - last_sent)))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.hub.unsubscribe(self.sub)
        self.hub.release(self.sub.token_id, self.sub.stream_id)


def streams_stop(app: Flask) -> threading.Event:
    """Set it to end every open stream of ``app`` (a server shutting down; tests)."""
    event: threading.Event = app.extensions.setdefault("dashboard_streams_stop", threading.Event())
    return event


def streams_of(app: Flask) -> StreamHub:
    """The application's stream hub (its poller and caps), made on first use."""
    hub = app.extensions.get("dashboard_streams")
    if hub is None:
        with _hub_lock:
            hub = app.extensions.setdefault("dashboard_streams", StreamHub(app))
    return hub  # type: ignore[no-any-return]


_hub_lock = threading.Lock()


def lease_ttl() -> int:
    return int(SLOT_LEASE_SECONDS) + 5


def client_socket(environ: dict[str, Any]) -> Any:
    """The connection's socket, where the server gives it (gunicorn, werkzeug)."""
    return environ.get("gunicorn.socket") or environ.get("werkzeug.socket")


def client_gone(sock: Any) -> bool:
    """Whether the client closed its end (a stream would otherwise learn it only from its
    next write, up to a heartbeat later)."""
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _latest(changes: dict[str, int], units: frozenset[str]) -> int:
    """The last change in a subtree: the most recent of its units' (a unit's own entry
    already covers its subtree when the projector writes ancestors too)."""
    return max((changes.get(u, 0) for u in units), default=0)


def _unit_of(token: Token | None) -> str | None:
    return None if token is None else token.unit

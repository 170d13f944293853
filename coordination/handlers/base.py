"""One shape for every command handler: load the stream, fold, authorize, decide, append with
the expected version, and give a retry the first result under its idempotency key."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from coordination.domain.access import Actor
from coordination.domain.errors import DomainError, TimeWentBackwards
from coordination.domain.units import Jurisdiction
from coordination.metrics import instruments
from coordination.store.eventstore import (
    ConcurrencyConflict,
    EventStore,
    Idempotency,
    Recorded,
    StoredEvent,
    Write,
)

Clock = Callable[[], datetime]
S = TypeVar("S")
W = TypeVar("W", bound="Written[Any]")


class NotFound(Exception):
    """No such aggregate, or none that this actor may see."""


class VersionMismatch(Exception):
    """The client expected another version than the aggregate has (or the log decided a race)."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"incident is at version {actual}, not the expected {expected}")
        self.expected = expected
        self.actual = actual


class Raced(Exception):
    """Another stream written with the aggregate's (a ledger) moved since it was read: the
    command is decided again on the new state."""

    def __init__(self, stream: str) -> None:
        super().__init__(f"{stream} moved while the command was decided")
        self.stream = stream


RACE_ATTEMPTS = 200  # each lost race means another writer won: a bounded number in practice


def check_version(expected: int | None, actual: int) -> None:
    """Raise unless the client expected nothing in particular, or exactly ``actual``."""
    if expected is not None and expected != actual:
        instruments.VERSION_CONFLICTS.labels("expected_version").inc()
        raise VersionMismatch(expected, actual)


@dataclass(frozen=True)
class Written(Generic[S]):
    """An aggregate after a write, with its history and the log position the write reached."""

    state: S
    history: list[StoredEvent]
    position: int
    replayed: bool = False


class Handler(Generic[S, W]):
    """The shared half of a handler; a subclass names its aggregate by ``fold`` and ``written``."""

    def __init__(
        self,
        store: EventStore,
        jurisdiction: Jurisdiction,
        clock: Clock,
        on_append: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.jurisdiction = jurisdiction
        self.clock = clock
        self.on_append = on_append
        # Streams as this process last folded them (``folded``): the state, its version and
        # its last event's id.
        self._folded: dict[tuple[str, str], tuple[S, int, str]] = {}

    def fold(self, events: Iterable[Any]) -> S:
        raise NotImplementedError

    def written(
        self, state: S, history: list[StoredEvent], position: int, replayed: bool = False
    ) -> W:
        raise NotImplementedError

    def fold_onto(self, state: S, events: Iterable[Any]) -> S:
        """``state`` after ``events``: a handler whose streams grow long folds on from a state
        it keeps rather than from the whole stream (see ``commit(onto=...)``)."""
        raise NotImplementedError

    def read(self, partition: str, stream: str) -> tuple[S, list[StoredEvent]]:
        """The aggregate as its stored events fold (a new one if there are none)."""
        history = self.store.read_stream(partition, stream)
        return self.fold(e.event for e in history), history

    def folded(self, partition: str, stream: str, empty: S) -> S:
        """The stream's aggregate as the log has it now, folded on from this process's last
        look (``empty`` before any event): only what came since is read and folded. For streams
        that grow long and are read by many writes (a community's ledger, read by every
        delivery there and every retry). Needs ``fold_onto``."""
        key = (partition, stream)
        known, version, last_id = self._folded.get(key) or (empty, 0, "")
        # From the last event folded: still there (the same id), the log is the one folded.
        found = self.store.read_stream_tail(partition, stream, max(version - 1, 0))
        if version and (not found or found[0].id != last_id):
            known, version, found = empty, 0, self.store.read_stream(partition, stream)
        elif version:
            found = found[1:]
        if found:
            known = self.fold_onto(known, (e.event for e in found))
            self._folded[key] = (known, version + len(found), found[-1].id)
        return known

    def keyed(self, partition: str, idempotency: Idempotency | None, attempt: Callable[[], W]) -> W:
        """``attempt()``, or the first result under the client's idempotency key if it has one.

        A retry that overlapped its first attempt finds the aggregate already changed by that
        attempt (a refusal, a lost race): it gets the first result too, like any later retry.
        """
        if replay := self._earlier(partition, idempotency):
            return replay
        try:
            for _ in range(RACE_ATTEMPTS - 1):
                try:
                    return attempt()
                except Raced:
                    continue
            return attempt()
        except (DomainError, VersionMismatch, Raced):
            if replay := self._earlier(partition, idempotency):
                return replay
            raise

    def commit(
        self,
        partition: str,
        stream: str,
        version: int,
        history: list[StoredEvent],
        events: list[Any],
        actor: Actor,
        now: datetime,
        idempotency: Idempotency | None,
        also: Sequence[Write] = (),
        retry: bool = False,
        onto: S | None = None,
    ) -> W:
        """Append a command's events at the version they were decided on (with ``also``, the
        events it writes to other streams, in the same atomic append), start a catch-up of the
        partition if none is pending, and fold the result; a lost race is a
        ``VersionMismatch`` (``Raced`` if another stream moved, or with ``retry``: a command
        that no client pinned to a version is decided again), a duplicate key the first
        result. With ``onto``, the state the events were decided on, the answer folds the new
        events onto it (``history`` then holds only them) instead of the whole history, and
        ``folded`` starts from it next time."""
        try:
            recorded: Recorded = self.store.append_many(
                partition,
                [Write(stream, version, events), *also],
                actor=actor.subject,
                now=now,
                idempotency=idempotency,
            )
        except ConcurrencyConflict as conflict:
            instruments.VERSION_CONFLICTS.labels("append").inc()
            if retry or conflict.stream_id != stream:
                raise Raced(conflict.stream_id) from None
            raise VersionMismatch(conflict.expected, conflict.actual) from None
        except TimeWentBackwards as backwards:
            # A busy shared stream (a ledger) took a write stamped later than this one's clock
            # reading: decided again, the clock reads later. The aggregate's own stream still
            # refuses an earlier time (a clock behind the log's).
            if retry or backwards.stream != stream:
                raise Raced(backwards.stream) from None
            raise
        if not recorded.duplicate:
            instruments.APPENDS.labels(partition).inc()
            appended = len(recorded.events) + len(recorded.others)
            instruments.EVENTS_APPENDED.labels(partition).inc(appended)
        if recorded.triggered and self.on_append is not None:
            self.on_append(partition)
        if recorded.duplicate:
            return self._replay(partition, idempotency)  # type: ignore[arg-type,return-value]
        history = history + list(recorded.events)
        if onto is not None:
            state = self.fold_onto(onto, (e.event for e in recorded.events))
            mine = (state, version + len(recorded.events), recorded.events[-1].id)
            self._folded[(partition, stream)] = mine
        else:
            state = self.fold(e.event for e in history)
        return self.written(state, history, recorded.position)

    def _earlier(self, partition: str, idempotency: Idempotency | None) -> W | None:
        """The first result under the client's idempotency key, if it sent one that was used."""
        if idempotency is None or idempotency.fresh:
            return None
        return self._replay(partition, idempotency)

    def _replay(self, partition: str, idempotency: Idempotency) -> W | None:
        if (found := self.store.replay(partition, idempotency)) is None:
            return None
        recorded, history = found
        state = self.fold(e.event for e in history)
        return self.written(state, history, recorded.position, replayed=True)

"""Given these events, when this command, then these events (or this refusal): the one
specification helper of the aggregates' unit tests, for any aggregate's ``decide`` and ``fold``.

A plain module on pytest's ``pythonpath`` (``tests/support``, see pyproject.toml):
``from spec import Spec, refused``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import pytest

from coordination.domain.context import Context
from coordination.domain.errors import DomainError

State = TypeVar("State")
Cmd = TypeVar("Cmd")
Evt = TypeVar("Evt")


class Spec(Generic[State, Cmd, Evt]):
    """Given these events, when this command, then these events.

    ``decide(state, command, ctx) -> events`` and ``fold(events) -> state`` are the aggregate's;
    ``ctx`` is the context every decision is made in.
    """

    def __init__(
        self,
        decide: Callable[[State, Cmd, Context], list[Evt]],
        fold: Callable[[Iterable[Evt]], State],
        ctx: Context,
    ) -> None:
        self.decide = decide
        self.fold = fold
        self.ctx = ctx
        self.history: list[Evt] = []
        self.produced: list[Evt] | None = None

    def given(self, events: list[Evt]) -> State:
        self.history = list(events)
        return self.fold(self.history)

    def when(self, command: Cmd) -> list[Evt]:
        self.produced = self.decide(self.fold(self.history), command, self.ctx)
        return self.produced

    def then(self, *expected: Evt) -> State:
        """Assert the exact events produced; return the state after them."""
        assert self.produced == list(expected)
        return self.fold([*self.history, *self.produced])


def refused(
    spec: Spec[Any, Cmd, Any],
    command: Cmd,
    field: str,
    error: type[DomainError] = DomainError,
) -> DomainError:
    """``command`` is refused with ``error`` (a DomainError by default) naming ``field``."""
    with pytest.raises(error) as raised:
        spec.when(command)
    assert raised.value.field == field
    return raised.value

"""Pure-domain fixtures: the demo jurisdiction tree and the decision context."""

from __future__ import annotations

from typing import Any

import pytest
from builders import NOW, load_jurisdiction, load_tree

from coordination.domain.context import Context
from coordination.domain.units import Jurisdiction


@pytest.fixture(scope="session")
def tree() -> dict[str, Any]:
    return load_tree()


@pytest.fixture(scope="session")
def jurisdiction() -> Jurisdiction:
    return load_jurisdiction()


@pytest.fixture(scope="session")
def ctx(jurisdiction: Jurisdiction) -> Context:
    return Context(jurisdiction, now=NOW)

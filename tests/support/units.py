"""A units tree of two districts for the tests of what crosses a district's border: the demo
district as on disk, and a neighbour, 海西区, with one street, one community and one place
(兰亭花园). A plain module on pytest's ``pythonpath``: ``from units import two_districts_tree``."""

from __future__ import annotations

import json
from typing import Any

from coordination.config import DEFAULT_UNITS_FILE


def two_districts_tree() -> dict[str, Any]:
    tree: dict[str, Any] = json.loads(DEFAULT_UNITS_FILE.read_text(encoding="utf-8"))
    tree["units"] += [
        {"id": "haixi", "name": "海西区", "level": "district"},
        {"id": "haixi/nanhu", "name": "南湖街道", "level": "street", "parent": "haixi"},
        {
            "id": "haixi/nanhu/lanting",
            "name": "兰亭社区",
            "level": "community",
            "parent": "haixi/nanhu",
        },
    ]
    tree["places"] = {**tree["places"], "兰亭花园": "haixi/nanhu/lanting"}
    return tree

"""Units trees for the tests of what crosses a district's border: two districts (the demo
district as on disk, and a neighbour, 海西区, with one street, one community and one place,
兰亭花园); and the demo city's units file (``CITY_FILE``: 海城市 over 港闻区 and 海韵区). A plain
module on pytest's ``pythonpath``: ``from units import two_districts_tree``."""

from __future__ import annotations

import json
from typing import Any

from coordination.config import DEFAULT_UNITS_FILE

CITY_FILE = DEFAULT_UNITS_FILE.with_name("city.json")


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

"""The demo's tokens: with a units file that puts a city above the demo district, the city's
platform gets a demo token too (``demo-city``), and the city's summary answers to it."""

from __future__ import annotations

from pathlib import Path

import redis as redis_lib
from units import CITY_FILE

from coordination.api.app import create_app
from coordination.config import Config
from coordination.devtools.devrun import demo_tokens
from coordination.domain.access import Role


def test_the_demo_gives_the_city_its_token_when_there_is_a_city(
    redis_url: str, redis: redis_lib.Redis, tmp_path: Path
) -> None:
    config = Config(redis_url=redis_url, units_file=CITY_FILE, data_dir=tmp_path)
    tokens = demo_tokens(config)
    app = create_app(config, redis=redis)
    found = app.extensions["coordination"].tokens.lookup(tokens["demo-city"])
    assert found is not None and found.role is Role.CITY and found.unit == "haicheng"
    answer = app.test_client().get(
        "/dashboard/cities/haicheng", headers={"Authorization": f"Bearer {tokens['demo-city']}"}
    )
    assert answer.status_code == 200, answer.get_json()
    assert [d["unit"] for d in answer.get_json()["districts"]] == ["gangwen", "haiyun"]
    assert demo_tokens(config)["demo-city"] == tokens["demo-city"]  # kept, not made again


def test_the_demo_district_alone_has_no_city_token(
    redis_url: str, redis: redis_lib.Redis, tmp_path: Path
) -> None:
    tokens = demo_tokens(Config(redis_url=redis_url, data_dir=tmp_path))
    assert "demo-city" not in tokens and "demo-dispatcher" in tokens

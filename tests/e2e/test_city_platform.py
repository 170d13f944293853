"""A city above its districts: the demo city (``city.json``: 海城市 over 港闻区 and 海韵区), its
platform's token (role ``city``), and its summary, district by district and summed.

The city's figures are the districts' counts added up, so a rate is the city's own: two
districts with epidemic shares of 1/1 and 1/3 make a city of 2/4, not their average."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from units import CITY_FILE

from coordination.cli import main
from coordination.domain.access import Role

CITY = "haicheng"
DISTRICTS = ("gangwen", "haiyun")


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def city_client(city_app: Flask) -> FlaskClient:
    return city_app.test_client()


@pytest.fixture
def secrets(city_app: Flask) -> dict[str, str]:
    store = city_app.extensions["coordination"].tokens
    made = {
        "city": (Role.CITY, CITY),
        "admin@city": (Role.ADMIN, CITY),
        "admin@gangwen": (Role.ADMIN, "gangwen"),
        "dispatcher@gangwen": (Role.DISPATCHER, "gangwen"),
        "dispatcher@haiyun": (Role.DISPATCHER, "haiyun"),
    }
    return {label: store.create(role, unit, label)[0] for label, (role, unit) in made.items()}


def order(place: str, epidemic: bool, kind: str = "work_order") -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": kind,
        "title": "居民反映问题",
        "place": place,
        "epidemic": epidemic,
        "reporter": {"name": "张三", "phone": "13812345678"},
    }
    if kind == "work_order":
        body["category"] = "consultation"
    return body


def file_orders(client: FlaskClient, secrets: dict[str, str], app: Flask) -> dict[str, list[str]]:
    """港闻区: one epidemic order. 海韵区: three, one of them epidemic."""
    made: dict[str, list[str]] = {d: [] for d in DISTRICTS}
    for district, place, epidemic in (
        ("gangwen", "丽都花园", True),
        ("haiyun", "月湾小区", True),
        ("haiyun", "月湾小区", False),
        ("haiyun", "灯塔", False),
    ):
        answer = client.post(
            "/incidents",
            json=order(place, epidemic),
            headers=bearer(secrets[f"dispatcher@{district}"]),
        )
        assert answer.status_code == 201, answer.get_json()
        made[district].append(answer.get_json()["incident"]["id"])
    services = app.extensions["coordination"]
    for district in DISTRICTS:
        services.projector.catch_up(district)
    return made


def test_the_city_summary_adds_up_its_districts_and_its_rates_are_its_own(
    city_app: Flask, city_client: FlaskClient, secrets: dict[str, str]
) -> None:
    made = file_orders(city_client, secrets, city_app)
    answer = city_client.get(f"/dashboard/cities/{CITY}", headers=bearer(secrets["city"]))
    assert answer.status_code == 200, answer.get_json()
    summary = answer.get_json()
    assert (summary["unit"], summary["name"], summary["level"]) == (CITY, "海城市", "city")
    rows = {row["unit"]: row for row in summary["districts"]}
    assert list(rows) == list(DISTRICTS)
    assert rows["haiyun"]["name"] == "海韵区"
    assert rows["gangwen"]["total"]["reported"] == 1
    assert rows["haiyun"]["total"]["reported"] == 3
    assert rows["gangwen"]["total"]["epidemic_share"] == 1.0
    assert rows["haiyun"]["total"]["epidemic_share"] == 0.3333
    total = summary["total"]
    assert total["reported"] == 4 and total["epidemic"] == 2
    assert total["epidemic_share"] == 0.5  # 2 of 4; the districts' average would be 0.6667
    assert total["open"]["total"] == 4 and total["calls"] == 4
    assert summary["by_kind"]["work_order"]["reported"] == 4
    services = city_app.extensions["coordination"]
    for district in DISTRICTS:
        assert rows[district]["position"] == services.store.head(district)
        # Each row is what the district's own dashboard says of its whole subtree.
        own = city_client.get(f"/dashboard/units/{district}", headers=bearer(secrets["city"]))
        assert own.status_code == 200
        assert rows[district]["total"] == own.get_json()["subtree"]["total"]
        assert rows[district]["total"]["open"]["total"] == len(made[district])


def test_the_city_platform_reads_its_districts_masked_and_writes_nothing(
    city_app: Flask,
    city_client: FlaskClient,
    secrets: dict[str, str],
    expect_error: Callable[..., Any],
) -> None:
    made = file_orders(city_client, secrets, city_app)
    city = bearer(secrets["city"])
    listed = city_client.get("/incidents", headers=city, query_string={"unit": "haiyun"})
    assert listed.status_code == 200
    items = listed.get_json()["items"]
    assert sorted(i["id"] for i in items) == sorted(made["haiyun"])
    assert all("13812345678" not in str(item) for item in items)  # residents masked
    one = city_client.get(f"/incidents/{made['gangwen'][0]}", headers=city)
    assert one.status_code == 200 and "13812345678" not in one.get_data(as_text=True)
    day = {"date": items[0]["created_at"][:10]}
    report = city_client.get(
        "/reports/daily", headers=city, query_string={**day, "district": "haiyun"}
    )
    assert report.status_code == 200 and report.get_json()["total"]["reported"] == 3
    # Without a district, the city's own unit names none: an answer that says so.
    expect_error(city_client.get("/reports/daily", headers=city, query_string=day), 422, "unit")
    expect_error(city_client.get("/incidents", headers=city), 422, "unit")
    expect_error(city_client.post("/incidents", json=order("灯塔", False), headers=city), 403)
    me = city_client.get("/me", headers=city).get_json()
    assert (me["role"], me["unit"], me["level"], me["district"]) == ("city", CITY, "city", None)
    assert "read_city" in me["actions"] and "report" not in me["actions"]


def test_the_city_summary_is_refused_clearly(
    city_client: FlaskClient, secrets: dict[str, str], expect_error: Callable[..., Any]
) -> None:
    path = f"/dashboard/cities/{CITY}"
    # A district's dispatcher may not read it; a district's admin does not reach the city.
    expect_error(city_client.get(path, headers=bearer(secrets["dispatcher@gangwen"])), 403)
    expect_error(city_client.get(path, headers=bearer(secrets["admin@gangwen"])), 404)
    assert city_client.get(path, headers=bearer(secrets["admin@city"])).status_code == 200
    city = bearer(secrets["city"])
    expect_error(city_client.get("/dashboard/cities/gangwen", headers=city), 422, "city")
    expect_error(city_client.get("/dashboard/cities/nowhere", headers=city), 404)
    future = city_client.get(path, headers=city, query_string={"date": "2999-01-01"})
    expect_error(future, 422, "date")
    # An admin at the city files an order at a place, never at the whole city.
    whole = city_client.post(
        "/incidents", json=order(CITY, False), headers=bearer(secrets["admin@city"])
    )
    expect_error(whole, 422, "place")


def test_city_tokens_sit_at_the_city_and_only_there(
    city_app: Flask, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("COORDINATION_UNITS_FILE", str(CITY_FILE))
    runner = CliRunner()

    def create(role: str, unit: str) -> Any:
        return runner.invoke(
            main, ["tokens", "create", "--role", role, "--unit", unit, "--name", "someone"]
        )

    at_district = create("city", "gangwen")
    assert at_district.exit_code == 2 and "a city token belongs to a city" in at_district.output
    dispatcher_at_city = create("dispatcher", CITY)
    assert dispatcher_at_city.exit_code == 2
    assert "(gangwen, haiyun)" in dispatcher_at_city.output
    made = create("city", CITY)
    assert made.exit_code == 0, made.output
    token = city_app.extensions["coordination"].tokens.lookup(made.stdout.strip().splitlines()[-1])
    assert token is not None and token.role is Role.CITY and token.unit == CITY

"""A city of two districts on the cluster: the units file ``city.json`` holds 港闻区 (gangwen)
and 海韵区 (haiyun) under 海城市 (haicheng), each a partition of the log, whose keys fall on
different shards. Orders are routed to their district by place, each district's dispatcher sees
its own, a projector per district catches each up, the daily report is per district, and the
city's platform reads the city's summary over both shards."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from redis.cluster import RedisCluster
from units import CITY_FILE as CITY

from coordination.api.app import create_app
from coordination.config import Config
from coordination.devtools.cluster import EmbeddedCluster
from coordination.domain.access import Role
from coordination.store import keys


def order(place: str) -> dict[str, Any]:
    return {
        "kind": "work_order",
        "category": "consultation",
        "title": "居民反映问题",
        "place": place,
        "reporter": {"name": "张三", "phone": "13812345678"},
    }


def test_two_districts_of_a_city_each_their_own_partition_on_its_own_shard(
    cluster: EmbeddedCluster, redis: RedisCluster, redis_url: str
) -> None:
    app: Flask = create_app(Config(redis_url=redis_url, units_file=CITY), redis=redis)
    services = app.extensions["coordination"]
    assert services.partitions == ["gangwen", "haiyun"]
    assert cluster.owner(keys.log("gangwen")) is not cluster.owner(keys.log("haiyun"))
    client = app.test_client()
    secrets = {
        d: services.tokens.create(Role.DISPATCHER, d, f"dispatcher-{d}")[0]
        for d in ("gangwen", "haiyun")
    }

    def headers(district: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secrets[district]}"}

    made = {}
    for district, place in (("gangwen", "丽都花园"), ("haiyun", "月湾小区"), ("haiyun", "灯塔")):
        answer = client.post("/incidents", json=order(place), headers=headers(district))
        assert answer.status_code == 201, answer.get_json()
        made.setdefault(district, []).append(answer.get_json()["incident"]["id"])
    assert all(i.startswith("haiyun-") for i in made["haiyun"])
    # A district's dispatcher cannot file an order at the other district's places.
    across = client.post("/incidents", json=order("月湾"), headers=headers("gangwen"))
    assert across.status_code in (403, 422), across.get_json()

    assert int(redis.get(keys.head("gangwen"))) > 0 and int(redis.get(keys.head("haiyun"))) > 0
    for district in ("gangwen", "haiyun"):
        services.projector.catch_up(district)
        listed = client.get("/incidents", headers=headers(district)).get_json()
        assert sorted(i["id"] for i in listed["items"]) == sorted(made[district])
        other = "haiyun" if district == "gangwen" else "gangwen"
        seen = client.get(f"/incidents/{made[other][0]}", headers=headers(district))
        assert seen.status_code == 404
        day = {"date": listed["items"][0]["created_at"][:10]}
        report = client.get("/reports/daily", headers=headers(district), query_string=day)
        assert report.status_code == 200, report.get_json()
        assert report.get_json()["district"] == district
        assert report.get_json()["total"]["reported"] == len(made[district])

    # The city's platform reads the summary: each district from its own shard, at its own
    # position, and the city's figures summed.
    city = services.tokens.create(Role.CITY, "haicheng", "city-platform")[0]
    answer = client.get("/dashboard/cities/haicheng", headers={"Authorization": f"Bearer {city}"})
    assert answer.status_code == 200, answer.get_json()
    summary = answer.get_json()
    rows = {row["unit"]: row for row in summary["districts"]}
    assert list(rows) == ["gangwen", "haiyun"]
    for district in ("gangwen", "haiyun"):
        assert rows[district]["position"] == int(redis.get(keys.head(district)))
        assert rows[district]["total"]["reported"] == len(made[district])
    assert summary["total"]["reported"] == 3 and summary["total"]["open"]["total"] == 3


def _node_id(cluster: EmbeddedCluster, node: Any) -> str:
    with cluster.client(node) as c:
        return str(c.execute_command("CLUSTER", "MYID").decode())


def _replicas_of(cluster: EmbeddedCluster, primary: Any) -> list[Any]:
    wanted = _node_id(cluster, primary)
    found = []
    for node in cluster.running:
        with cluster.client(node) as c:
            replication = c.info("replication")
        if replication["role"] == "slave" and node is not primary:
            with cluster.client(node) as c:
                master = c.execute_command("CLUSTER", "NODES").decode()
            mine = next(line for line in master.splitlines() if "myself" in line)
            if mine.split()[3] == wanted:
                found.append(node)
    return found


def test_a_shard_down_stops_its_own_district_only_and_the_city_summary_says_so(
    cluster: EmbeddedCluster, redis: RedisCluster, redis_url: str
) -> None:
    """港闻区's shard is lost whole (its primary and its replica killed, so no failover can
    help): 海韵区, on another shard, goes on taking orders; 港闻区's orders get a quick 503; the
    city's summary answers with 海韵区's figures and names 港闻区 as unavailable. Once the
    shard is back, the summary is complete again. (Not the shard of the tokens' slot: every
    request's token lookup needs that one, see the README.)"""
    app: Flask = create_app(Config(redis_url=redis_url, units_file=CITY), redis=redis)
    services = app.extensions["coordination"]
    client = app.test_client()
    secret = {
        d: services.tokens.create(Role.DISPATCHER, d, f"dispatcher-{d}")[0]
        for d in ("gangwen", "haiyun")
    }
    city = services.tokens.create(Role.CITY, "haicheng", "city-platform")[0]

    def post(district: str, place: str) -> Any:
        headers = {"Authorization": f"Bearer {secret[district]}"}
        return client.post("/incidents", json=order(place), headers=headers)

    def summary() -> tuple[Any, float]:
        started = time.monotonic()
        answer = client.get(
            "/dashboard/cities/haicheng", headers={"Authorization": f"Bearer {city}"}
        )
        return answer, time.monotonic() - started

    assert post("gangwen", "丽都花园").status_code == 201
    assert post("haiyun", "月湾小区").status_code == 201
    for district in ("gangwen", "haiyun"):
        services.projector.catch_up(district)
    reported = {
        d: client.get(
            f"/dashboard/units/{d}", headers={"Authorization": f"Bearer {city}"}
        ).get_json()["subtree"]["total"]["reported"]
        for d in ("gangwen", "haiyun")
    }

    victim = cluster.owner(keys.log("gangwen"))
    assert cluster.owner(keys.log("haiyun")) is not victim
    assert cluster.owner(keys.token("x")) is not victim, "the tokens' shard stays up"
    lost = [victim, *_replicas_of(cluster, victim)]
    assert len(lost) == 2, "gangwen's shard has a primary and a replica"
    for node in lost:
        node.kill()
    try:
        time.sleep(2.5)  # past the node timeout (1 s): the others have marked the shard failed
        started = time.monotonic()
        taken = post("haiyun", "月湾小区")
        assert taken.status_code == 201, taken.get_json()
        refused = post("gangwen", "丽都花园")
        assert refused.status_code == 503, refused.get_json()
        assert time.monotonic() - started < 10
        services.projector.catch_up("haiyun")  # a projector of a district that is up goes on
        answer, seconds = summary()
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        assert body["complete"] is False and body["unavailable"] == ["gangwen"]
        rows = {row["unit"]: row for row in body["districts"]}
        assert "retry" in rows["gangwen"]["unavailable"] and "total" not in rows["gangwen"]
        assert "unavailable" not in rows["haiyun"]
        assert rows["haiyun"]["total"]["reported"] == reported["haiyun"] + 1
        assert body["total"]["reported"] == reported["haiyun"] + 1  # the answering ones
        assert seconds < 10, seconds
    finally:
        for node in lost:
            node.start()
        cluster.wait_ready(timeout=60)
    services.projector.catch_up("gangwen")
    answer, _ = summary()
    body = answer.get_json()
    assert body["complete"] is True and body["unavailable"] == []
    assert body["total"]["reported"] == reported["haiyun"] + 1 + reported["gangwen"]

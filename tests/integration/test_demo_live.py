"""The demo against a running ``coordination dev`` (embedded server, API, worker, scheduler with
a one-second tick, each a process as ``make run`` starts them): a past day is refused on the
live data and seeded into its own with ``--isolated``; today is seeded beside live use. Time
never goes backwards in any stream, no watcher event lands in the historical day, and each
day's report counts what the demo's summary says."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib

from coordination.bootstrap import build_services
from coordination.config import Config
from coordination.devtools.embedded import EmbeddedServer, free_port
from coordination.domain.events import IncidentClosed
from coordination.projections import reports
from coordination.store import keys
from coordination.store.eventstore import EventStore

ROOT = Path(__file__).resolve().parents[2]
COORDINATION = str(Path(sys.executable).parent / "coordination")
P = "gangwen"
PAST = "2020-02-08"
TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Stack:
    env: dict[str, str]
    data: Path
    base: str
    redis: redis_lib.Redis


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    data = tmp_path / "var"
    env = {
        "PATH": os.environ["PATH"],
        "COORDINATION_DATA_DIR": str(data),
        "COORDINATION_PORT": str(free_port()),
        "COORDINATION_TICK_SECONDS": "1",
    }
    log = (tmp_path / "dev.log").open("wb")
    proc = subprocess.Popen(
        [COORDINATION, "dev"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while not (data / "demo-tokens.json").exists() or not (data / "redis.url").exists():
            assert proc.poll() is None, (tmp_path / "dev.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "dev.log").read_text()
            time.sleep(0.2)
        client = redis_lib.Redis.from_url((data / "redis.url").read_text())
        while not client.exists(keys.scheduler_heartbeat()):  # the live watchers run
            assert time.monotonic() < deadline, (tmp_path / "dev.log").read_text()
            time.sleep(0.2)
        yield Stack(env, data, f"http://127.0.0.1:{env['COORDINATION_PORT']}", client)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def demo(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COORDINATION, "demo", *args],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def figures(total: dict[str, Any]) -> dict[str, int]:
    """A report's total by the summary's names, read field by field."""
    signed, resolved, visits = total["signed"], total["resolved"], total["visits"]
    return {
        "reported": total["reported"],
        "epidemic": total["epidemic"],
        "signed_on_time": signed["on_time"],
        "signed_late": signed["late"],
        "signed_no_deadline": signed["no_deadline"],
        "resolved_on_time": resolved["on_time"],
        "resolved_late": resolved["late"],
        "resolved_no_deadline": resolved["no_deadline"],
        "visit_satisfied": visits["satisfied"],
        "visit_basically_satisfied": visits["basically_satisfied"],
        "visit_unsatisfied": visits["unsatisfied"],
        "escalated": total["escalated"],
        "reopened": total["reopened"],
        "breached": total["breached"],
    }


def streams_move_forward(client: redis_lib.Redis) -> int:
    """Assert that no event of any stream is dated before its predecessor; how many streams."""
    store = EventStore(client)
    names = [k.decode() for k in client.scan_iter(match="{gangwen}:stream:*", count=1000)]
    for name in names:
        times = [e.time for e in store.read_stream(P, name.split(":stream:", 1)[1])]
        assert all(a <= b for a, b in zip(times, times[1:], strict=False)), (name, times)
    return len(names)


def get(stack: Stack, path: str, token: bool = True) -> dict[str, Any]:
    """GET as the demo's viewer (or with no token), read at the log's head."""
    viewer = json.loads((stack.data / "demo-tokens.json").read_text())["demo-viewer"]
    head = int(stack.redis.get(keys.head(P)) or 0)
    joiner = "&" if "?" in path else "?"
    url = f"{stack.base}{path}{joiner}min_position={head}" if token else stack.base + path
    headers = {"Authorization": f"Bearer {viewer}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as answer:
        found: dict[str, Any] = json.load(answer)
        return found


def get_report(stack: Stack, day: str) -> dict[str, Any]:
    return get(stack, f"/reports/daily?date={day}")


def test_a_past_day_and_today_beside_a_running_dev_stack(stack: Stack) -> None:
    head = int(stack.redis.get(keys.head(P)) or 0)

    # a past day on the live data: refused, and nothing written
    refused = demo(stack, "--day", PAST)
    assert refused.returncode == 1, refused
    assert "live watchers run on this data" in refused.stderr and "--isolated" in refused.stderr
    assert int(stack.redis.get(keys.head(P)) or 0) == head
    assert stack.redis.get(keys.demo_day(P, PAST)) is None

    # today, beside live use: driven up to now (to 21:00 at the latest here, so that no
    # night emergency's quarter-hour deadline falls due between the demo and the report)
    now = datetime.now(TZ)
    until = ["--until", "21:00"] if now.hour >= 21 else []
    seeded = demo(stack, "--json", *until)
    assert seeded.returncode == 0, seeded.stderr
    summary = json.loads(seeded.stdout)
    today = summary["day"]
    assert today == now.date().isoformat() or now.hour == 23  # a run across midnight
    assert summary["failures"] == []
    assert list(summary["days"]) in ([today], [])
    report = get_report(stack, today)
    assert figures(report["total"]) == summary["days"].get(today, figures(report["total"]))
    assert figures(report["total"])["reported"] == sum(summary["by_kind"].values())
    assert summary["reports"] == [
        f"report for {d}: counts the same as this summary" for d in summary["days"]
    ]
    # the supplies: the district's record of the days before today, the books balanced, and
    # 陈桥街道's plea of that record still lacking thermometers, as the API serves them
    supplies = summary["supplies"]
    # `make run` gave the district its catalogue already: the demo adds no item
    assert supplies["catalogue_added"] == 0 and supplies["donations"] >= 7
    assert supplies["books"]["balanced"] is True and supplies["books"]["differences"] == []
    assert get(stack, "/supplies/reconciliation")["balanced"] is True
    short = get(stack, "/supplies/shortages")["rows"]
    assert {(r["unit"], r["item"], r["short"]) for r in short} >= {
        ("gangwen/chenqiao", "额温枪", 7)
    }
    public = get(stack, "/supplies/donations/public?limit=100", token=False)["items"]
    assert len(public) == supplies["donations"]
    assert {"港闻港务集团有限公司", "丽都惠民超市"} <= {d["donor"] for d in public}
    assert "contact" not in json.dumps(public)
    time.sleep(3)  # live ticks run again: the fence is gone
    assert streams_move_forward(stack.redis) >= len(summary["by_kind"])
    store = EventStore(stack.redis)
    assert all(e.time.year > 2020 for e in store.read_partition(P, count=100_000))

    # the past day, in its own data: every order closed, each day's report as the summary
    isolated = demo(stack, "--day", PAST, "--isolated", "--json")
    assert isolated.returncode == 0, isolated.stderr
    past = json.loads(isolated.stdout)
    assert past["failures"] == [] and past["open"] == []
    assert sorted(past["days"]) == [PAST, "2020-02-09"]
    assert past["days"][PAST]["reported"] == 145
    assert past["days"]["2020-02-09"]["signed_late"] >= 3  # the evening's, signed the next day
    assert past["supplies"]["books"]["balanced"] is True and past["supplies"]["issued"]
    assert Path(past["data_dir"]) == stack.data / f"demo-{PAST}"
    with EmbeddedServer(Path(past["data_dir"]) / "redis") as own:
        client = redis_lib.Redis.from_url(own.url)
        config = Config(redis_url=own.url)
        services = build_services(config, client)  # the real clock: a live tick's watch
        services.projector.catch_up(P)
        own_head = services.store.head(P)
        assert services.watchers.watch_deadlines(P) == 0
        assert services.watchers.expire_leases(P) == 0
        assert services.store.head(P) == own_head  # no watcher event lands in that day
        assert streams_move_forward(client) >= 145
        for day in (PAST, "2020-02-09"):
            found = reports.daily_report(
                services.reads, services.jurisdiction, P, date.fromisoformat(day),
                datetime.now(TZ), TZ, min_position=own_head,
            )  # fmt: skip
            assert figures(found["total"]) == past["days"][day], day
        incidents = list(services.reads.every_incident(P, own_head))
        assert len(incidents) == 145
        for view in incidents:
            last = services.store.read_stream(P, view.incident.id)[-1]
            assert isinstance(last.event, IncidentClosed), (view.incident.id, last)
            assert last.time.astimezone(TZ).date() <= date(2020, 2, 9)
        client.close()
    # and the live data has none of it
    assert all(e.time.year > 2020 for e in store.read_partition(P, count=100_000))
    assert stack.redis.get(keys.demo_day(P, PAST)) is None

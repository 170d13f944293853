"""The seeded demo day against a real valkey server: a realistic day of 港闻区 reaches the
log through the real services, its figures are there in the projections, and it is seeded once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
from rq import Queue
from rq.serializers import JSONSerializer

from coordination.bootstrap import build_services
from coordination.config import Config
from coordination.devtools.demo import (
    TICK_JOB,
    UNCOVERED,
    DayNotEmpty,
    DemoRefused,
    LaterHistory,
    LiveWatchers,
    TickFence,
    report_figures,
    seed_day,
)
from coordination.domain.access import Actor, Role
from coordination.domain.commands import ReceiveDonation
from coordination.domain.events import (
    DonationReceived,
    IncidentEscalated,
    IncidentReported,
    IncidentResolved,
    NeedPosted,
    TransferDispatched,
    TransferSettled,
)
from coordination.domain.supplies import NeedStatus
from coordination.domain.values import (
    CatalogueItem,
    Donor,
    DonorKind,
    Kind,
    Line,
    Status,
    SupplyCategory,
)
from coordination.projections import reports
from coordination.store import keys

P = "gangwen"
DAY = date(2020, 2, 8)  # a Saturday of the outbreak: epidemic orders are done the same day
NEXT = "2020-02-09"
NEXT_DAY = date(2020, 2, 9)
TZ = ZoneInfo("Asia/Shanghai")
ADMIN = Actor("admin@gangwen", Role.ADMIN, P)
LIDU = "gangwen/chenqiao/lidu"


def total(counts: dict[str, int], metric: str, kind: str | None = None) -> int:
    """The sum of ``<unit>|<kind>|<metric>`` over units (and kinds, unless one is named)."""
    found = 0
    for name, count in counts.items():
        _, got_kind, got_metric = name.split("|")
        if got_metric == metric and kind in (None, got_kind):
            found += count
    return found


def test_a_seeded_day_has_something_to_say_and_is_seeded_once(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    config = Config(redis_url=redis_url)
    started = time.monotonic()
    summary = seed_day(config, DAY, redis=redis)
    seeded_in = time.monotonic() - started
    assert seeded_in < 30, seeded_in
    assert summary.failures == []

    services = build_services(config, redis)
    services.projector.catch_up(P)
    head = services.store.head(P)
    counts = services.reads.day_counts(P, DAY.isoformat(), min_position=head)
    after = services.reads.day_counts(P, NEXT, min_position=head)

    # about a hundred epidemic orders and forty ordinary ones, night emergencies among them
    assert total(counts, "epidemic") >= 90
    assert total(counts, "reported") >= 130
    assert total(counts, "reported") == summary.reported
    assert total(counts, "reported", Kind.NIGHT_EMERGENCY.value) >= 3
    assert {k.value for k in Kind} <= set(summary.by_kind)
    assert summary.returned >= 1
    # most signed for on time; some late: a night emergency at a street that day, and the
    # evening orders left unsigned at midnight the next morning (breached and escalated)
    assert total(counts, "signed_on_time") >= 100
    assert total(counts, "signed_late") >= 1
    assert total(counts, "signed_late") + total(after, "signed_late") == summary.signed_late >= 3
    assert total(counts, "escalated") + total(after, "escalated") == summary.escalations >= 3
    assert total(counts, "breached_sign_by") + total(after, "breached_sign_by") >= 2
    assert summary.breaches >= 3
    # return visits: mostly satisfied, a few basically, one or two unsatisfied and reopened
    visits: dict[str, Any] = {
        result: total(counts, f"visit_{result}") + total(after, f"visit_{result}")
        for result in ("satisfied", "basically_satisfied", "unsatisfied")
    }
    assert visits == dict(summary.visits), (visits, summary.visits)
    assert visits["satisfied"] >= 80
    assert visits["basically_satisfied"] >= 1
    assert 1 <= visits["unsatisfied"] <= 3
    assert total(counts, "reopened") == visits["unsatisfied"]

    # the uncovered community's night emergency went to its street at once: nobody on duty
    night = services.reads.incidents(
        P,
        lambda v: v.incident.kind is Kind.NIGHT_EMERGENCY and v.incident.place_unit == UNCOVERED,
        min_position=head,
    ).items
    assert night, "no night emergency in the uncovered community"
    history = services.store.read_stream(P, night[0].incident.id)
    escalations = [e.event for e in history if isinstance(e.event, IncidentEscalated)]
    assert any(e.reason == "nobody on duty" for e in escalations), escalations
    assert night[0].incident.on_duty == ()

    # seeding again is refused and changes nothing
    marker = redis.get(keys.demo_day(P, DAY.isoformat()))
    with pytest.raises(DayNotEmpty):
        seed_day(config, DAY, redis=redis)
    with pytest.raises(DayNotEmpty):
        seed_day(config, DAY, seed=7, redis=redis)
    assert services.store.head(P) == head
    assert redis.get(keys.demo_day(P, DAY.isoformat())) == marker
    assert services.reads.day_counts(P, DAY.isoformat()) == counts


def test_a_day_with_orders_already_is_refused(redis: redis_lib.Redis, redis_url: str) -> None:
    """A day with real orders in the log is not seeded over, even without the demo's marker."""
    config = Config(redis_url=redis_url)
    seed_day(config, DAY, redis=redis)
    redis.delete(keys.demo_day(P, DAY.isoformat()))
    head = build_services(config, redis).store.head(P)
    with pytest.raises(DayNotEmpty, match="orders in the log"):
        seed_day(config, DAY, redis=redis)
    assert build_services(config, redis).store.head(P) == head


def test_each_days_report_counts_what_the_summary_says_and_every_order_is_closed(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    config = Config(redis_url=redis_url)
    summary = seed_day(config, DAY, redis=redis)
    services = build_services(config, redis)
    head = services.store.head(P)
    tz = ZoneInfo(config.timezone)
    assert sorted(summary.days) == [DAY.isoformat(), NEXT]  # the rest falls on the next day
    for day in summary.days:
        report = reports.daily_report(
            services.reads, services.jurisdiction, P, date.fromisoformat(day),
            datetime.now(tz), tz, min_position=head,
        )  # fmt: skip
        assert report_figures(report["total"]) == summary.figures(day), day
    assert summary.open == []
    views = list(services.reads.every_incident(P, head))
    assert len(views) == summary.reported
    assert {v.incident.status for v in views} == {Status.CLOSED}
    assert services.reads.due_deadlines(P, datetime.now(tz)) == []


def test_a_past_day_is_refused_while_live_watchers_run_on_the_data(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    redis.set(keys.scheduler_heartbeat(), "1", ex=60)  # as a running scheduler keeps it
    with pytest.raises(LiveWatchers, match="--isolated"):
        seed_day(Config(redis_url=redis_url), DAY, redis=redis)
    assert redis.keys("{gangwen}:*") == []  # nothing written, not even the marker


def test_a_past_day_is_refused_where_the_demos_streams_have_later_events(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    config = Config(redis_url=redis_url)
    seed_day(config, NEXT_DAY, redis=redis)  # the demo's staff now have events of that day
    head = build_services(config, redis).store.head(P)
    with pytest.raises(LaterHistory, match="demo-yonghe-1"):
        seed_day(config, DAY, redis=redis)
    assert build_services(config, redis).store.head(P) == head
    assert redis.get(keys.demo_day(P, DAY.isoformat())) is None


def test_today_is_driven_up_to_now_and_what_is_due_later_is_left_open_and_listed(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    """Today at 13:00 (a clock of the test's): nothing is dated after it, and the orders whose
    next step is later are listed with it, open."""
    tz = ZoneInfo("Asia/Shanghai")
    now = datetime(2020, 2, 8, 13, 0, tzinfo=tz)
    summary = seed_day(Config(redis_url=redis_url), redis=redis, clock=lambda: now)
    assert summary.day == DAY and summary.failures == []
    events = build_services(Config(redis_url=redis_url), redis).store.read_partition(P, count=10**5)
    assert max(e.time for e in events) <= now
    assert list(summary.days) == [DAY.isoformat()]
    assert summary.open, "a weekday afternoon with nothing in progress"
    for order in summary.open:
        assert order["at"] > "2020-02-08 13:00", order
        assert order["status"] != "closed"
    services = build_services(Config(redis_url=redis_url), redis)
    views = list(services.reads.every_incident(P, services.store.head(P)))
    still_open = {v.incident.id for v in views if v.incident.status is not Status.CLOSED}
    assert still_open == {o["id"] for o in summary.open}


def test_the_demo_holds_the_tick_slot_so_no_live_tick_runs_meanwhile(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    """A scheduler (tick every second) enqueues no tick while the fence is held; one queued
    before is dropped; after it, ticks come again."""
    env = {"PATH": str(Path(sys.executable).parent), "REDIS_URL": redis_url}
    env["COORDINATION_TICK_SECONDS"] = "1"
    queue = Queue("coordination", connection=redis, serializer=JSONSerializer)
    queue.enqueue(TICK_JOB)
    scheduler = subprocess.Popen(
        [str(Path(sys.executable).parent / "coordination"), "scheduler"], env=env
    )
    try:
        with TickFence(redis, "coordination"):
            assert queue.get_job_ids() == []  # the queued tick was dropped
            time.sleep(2.5)
            assert queue.get_job_ids() == []  # and none came while the demo held the slot
        deadline = time.monotonic() + 10
        while not queue.get_job_ids():
            assert time.monotonic() < deadline, "no tick after the fence"
            time.sleep(0.1)
    finally:
        scheduler.terminate()
        scheduler.wait(10)


# --- supplies -------------------------------------------------------------------------------


def local_day(moment: datetime) -> str:
    return moment.astimezone(TZ).date().isoformat()


def test_the_demo_stocks_the_ledgers_so_that_its_deliveries_draw_real_stock(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    """The district's own record on its own dates (2月2日 to 2月6日 before the demo day of
    2月8日), the day's gifts passed down before the first delivery is handed down, every
    delivery's items issued by its community, a plea the day leaves unmet, and books that
    balance, in the log and in the read side (after a rebuild too)."""
    config = Config(redis_url=redis_url)
    summary = seed_day(config, DAY, redis=redis)
    assert summary.failures == []
    services = build_services(config, redis)
    services.projector.catch_up(P)
    head = services.store.head(P)
    log = services.store.read_partition(P, count=10**6)

    # the district's own record, each gift on its day, to its unit
    gifts = [
        (local_day(e.time), e.event.unit, {line.item: line.quantity for line in e.event.items})
        for e in log
        if isinstance(e.event, DonationReceived)
    ]
    assert gifts[:7] == [
        ("2020-02-02", "gangwen/chenqiao/huaqiao", {"纸巾": 2}),
        ("2020-02-03", "gangwen/cdc", {"防护服": 1200}),
        ("2020-02-04", "gangwen/chenqiao/gongyuan", {"84消毒液": 1040}),
        ("2020-02-05", "gangwen/chenqiao", {"医用酒精": 5}),
        ("2020-02-05", "gangwen", {}),
        ("2020-02-06", "gangwen/chenqiao/lidu", {"84消毒液(桶装)": 6}),
        ("2020-02-06", "gangwen/chenqiao", {"额温枪": 11, "口罩": 1000}),
    ]
    district = services.supplies.ledger(P, "gangwen")
    assert district.cash_fen == 15_000_000
    assert district.earmarked == {"支援武汉医护人员": 8_000_000, "区一线防护物资采购": 7_000_000}
    # 陈桥街道's plea of the evening of 2月4日: the parcel of 2月6日 met the masks, not all the
    # thermometers; it passed 9 of its 11 down, so it is short of 7
    plea = next(e for e in log if isinstance(e.event, NeedPosted))
    assert plea.event.unit == "gangwen/chenqiao" and local_day(plea.time) == "2020-02-04"
    assert plea.time.astimezone(TZ).hour >= 18
    street = services.supplies.ledger(P, "gangwen/chenqiao")
    need = street.needs[plea.event.need_id]
    assert need.status == NeedStatus.OPEN and need.remaining == (Line("额温枪", 9),)

    # transfers: 公园社区 sends 84 back up, the street passes supplies down; each received, one
    # short (the loss written off at the sender, with the reason)
    settled = [e.event for e in log if isinstance(e.event, TransferSettled)]
    dispatched = [e.event for e in log if isinstance(e.event, TransferDispatched)]
    assert len(settled) == len(dispatched) == summary.supplies["transfers"] >= 6
    up = dispatched[0]
    assert (up.from_unit, up.to_unit) == ("gangwen/chenqiao/gongyuan", "gangwen/chenqiao")
    lossy = [s for s in settled if s.lost]
    assert lossy and all(s.loss_reason for s in lossy)
    assert len(lossy) == summary.supplies["received_short"] == 2  # one of the record, one today
    assert lossy[0].to_unit == "gangwen/chenqiao/lidu" and lossy[0].lost == (Line("口罩", 10),)
    day_moves = [
        e
        for e in log
        if isinstance(e.event, TransferSettled) and local_day(e.time) == DAY.isoformat()
    ]
    assert day_moves and all(e.time.astimezone(TZ).hour < 8 for e in day_moves)

    # every delivery's items were issued by the community that resolved it (twice for one
    # reopened and done again), none is left promised
    items: dict[str, dict[str, int]] = {}
    expected: Counter[tuple[str, str]] = Counter()
    for stored in log:
        event = stored.event
        if isinstance(event, IncidentReported) and event.kind is Kind.SUPPLY_DELIVERY:
            items[stored.stream] = {i.item: i.quantity for i in event.items}
        elif isinstance(event, IncidentResolved) and stored.stream in items:
            for item, n in items[stored.stream].items():
                expected[(event.unit, item)] += n
    assert len(items) == summary.by_kind["supply_delivery"] == 45
    issued: Counter[tuple[str, str]] = Counter()
    for unit in services.jurisdiction.units:
        ledger = services.supplies.ledger(P, unit)
        assert ledger.reservations == {}, unit
        for item, stock in ledger.stock.items():
            assert stock.reserved == 0 and stock.on_hand >= 0, (unit, item)
            if stock.issued:
                issued[(unit, item)] = stock.issued
    assert issued == expected
    assert sum(summary.issued.values()) == sum(expected.values())

    # the read side: stock in every community, the shortages the dashboard shows, the books
    units = sorted(services.jurisdiction.units)
    rows, _ = services.reads.stock(P, units, min_position=head)
    stocked = {r.unit for r in rows if r.available > 0}
    assert {unit for unit, _ in expected} <= stocked
    shortages, _ = services.reads.shortages(P, units, min_position=head)
    short = {(r.unit, r.item): r.short for r in shortages}
    assert short[("gangwen/chenqiao", "额温枪")] == 7
    assert short[("gangwen/chenqiao/yonghe", "口罩")] > 1000  # a plea for 2,000 masks
    assert summary.books["shortages"] == [
        {"unit": r.unit, "item": r.item, "short": r.short, "measure": r.measure} for r in shortages
    ]
    books = services.reads.reconciliation(P, min_position=head)
    assert books.balanced and books.differences == ()
    assert summary.books["balanced"] is True and summary.books["differences"] == []
    for row in books.rows:  # as the log folds
        stock = services.supplies.ledger(P, row.unit).of(row.item)
        assert (row.on_hand, row.reserved, row.in_transit, row.issued) == (
            stock.on_hand, stock.reserved, stock.in_transit, stock.issued,
        ), row  # fmt: skip
    public = services.reads.donations([P], limit=100).items
    assert len(public) == summary.supplies["donations"] == len(gifts)
    assert [d.anonymous for d in public].count(True) == 1
    services.projector.rebuild(P)
    assert services.reads.reconciliation(P) == books


def test_the_districts_record_is_seeded_once_and_each_day_stocks_up_for_its_deliveries(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    config = Config(redis_url=redis_url)
    first = seed_day(config, DAY, redis=redis)
    later = date(2020, 2, 10)  # after the first day's work of the next morning
    second = seed_day(config, later, redis=redis)
    assert second.failures == []
    assert first.supplies["catalogue_added"] == 12 and second.supplies["catalogue_added"] == 0
    services = build_services(config, redis)
    log = services.store.read_partition(P, count=10**6)
    gifts = [e for e in log if isinstance(e.event, DonationReceived)]
    assert [e.event.unit for e in gifts].count("gangwen/cdc") == 1  # the suits came once
    assert first.supplies["donations"] + second.supplies["donations"] == len(gifts)
    on_the_day = [e for e in gifts if local_day(e.time) == later.isoformat()]
    assert len(on_the_day) == second.supplies["donations"] >= 2  # a street's gift, the anonymous
    assert second.issued and second.books["balanced"] is True
    for stream in {e.stream for e in log}:  # time moves forward in every stream
        times = [e.time for e in services.store.read_stream(P, stream)]
        assert times == sorted(times), stream


def test_a_catalogue_counting_an_item_otherwise_is_refused(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    config = Config(redis_url=redis_url)
    services = build_services(config, redis, clock=lambda: datetime(2020, 2, 1, 9, tzinfo=TZ))
    boxes = CatalogueItem("口罩", SupplyCategory.PROTECTION, "盒")
    services.supplies.catalogue.add(ADMIN, P, boxes)
    head = services.store.head(P)
    with pytest.raises(DemoRefused, match="口罩 in 盒"):
        seed_day(config, DAY, redis=redis)
    assert services.store.head(P) == head
    assert redis.get(keys.demo_day(P, DAY.isoformat())) is None


def test_a_day_before_the_supplies_books_last_entry_is_refused(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    """A donation recorded on 2月9日: the demo day of 2月8日 (and its record of the days
    before) would put the books' history out of order."""
    config = Config(redis_url=redis_url)
    services = build_services(config, redis, clock=lambda: datetime(2020, 2, 9, 10, tzinfo=TZ))
    services.supplies.catalogue.add(
        ADMIN, P, CatalogueItem("口罩", SupplyCategory.PROTECTION, "个")
    )
    masks = ReceiveDonation(LIDU, Donor(DonorKind.COMPANY, "某公司"), "经手人", (Line("口罩", 50),))
    services.supplies.execute(ADMIN, LIDU, masks)
    head = services.store.head(P)
    with pytest.raises(LaterHistory, match="catalogue"):
        seed_day(config, DAY, redis=redis)
    assert services.store.head(P) == head
    assert redis.get(keys.demo_day(P, DAY.isoformat())) is None

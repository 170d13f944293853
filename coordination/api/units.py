"""A unit's queue: what waits there, its counts, and pulling the next order from it."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask.views import MethodView

from coordination.api import present
from coordination.api.auth import authenticate, current_actor
from coordination.api.incidents import written
from coordination.api.parsing import Blueprint
from coordination.api.reading import reading, services, within_scope
from coordination.domain.staff import coverage, night_window, on_duty
from coordination.domain.units import Level
from coordination.projections.views import View
from coordination.store.mapper import to_data
from schemas.incidents import WrittenSchema
from schemas.queries import (
    ClaimNextSchema,
    PageSchema,
    QueueQueryArgsSchema,
    QueueSummarySchema,
    ReadArgsSchema,
)
from schemas.staff import DutyArgsSchema, DutySchema, StaffListSchema, StatsArgsSchema, StatsSchema

blp = Blueprint("units", __name__, url_prefix="/units", description="Unit queues")
blp.before_request(authenticate)


@blp.route("/<path:unit>/queue")
class Queue(MethodView):
    @blp.arguments(QueueQueryArgsSchema(), location="query")
    @blp.response(200, PageSchema)
    def get(self, args: dict[str, Any], unit: str) -> Any:
        """The unit's open orders: night emergencies first, then priority, deadline, age.

        Most urgent first: night emergencies, then urgent, high, normal and low priority; within
        each, the earliest deadline still running and not yet breached, to the minute (an order
        without one ranks as if due when it was made); then the oldest; then by id.
        """
        within_scope(unit)

        def keep(view: View) -> bool:
            incident = view.incident
            return args.get("state") in (None, incident.status) and args.get("kind") in (
                None,
                incident.kind,
            )

        partition = services().jurisdiction.district_of(unit)
        page = reading(
            lambda: services().reads.queue(
                partition, unit, keep, args.get("cursor"), args["limit"], args.get("min_position")
            )
        )
        return present.page(page, current_actor())


@blp.route("/<path:unit>/queue/summary")
class QueueSummary(MethodView):
    @blp.arguments(ReadArgsSchema(), location="query")
    @blp.response(200, QueueSummarySchema)
    def get(self, args: dict[str, Any], unit: str) -> Any:
        """Counts of the unit's queue by state and kind."""
        within_scope(unit)
        partition = services().jurisdiction.district_of(unit)
        counts, position = services().reads.summary(partition, unit, args.get("min_position"))
        by_state = {state: sum(kinds.values()) for state, kinds in counts.items()}
        return {
            "unit": unit,
            "position": position,
            "total": sum(by_state.values()),
            "by_state": by_state,
            "by_state_and_kind": counts,
        }


@blp.route("/<path:unit>/queue/claim-next")
class ClaimNext(MethodView):
    @blp.arguments(ClaimNextSchema())
    @blp.response(200, WrittenSchema)
    @blp.alt_response(204, description="Nothing to claim.")
    def post(self, args: dict[str, Any], unit: str) -> Any:
        """Claim the most urgent unclaimed order of the unit's queue, or 204 if none."""
        within_scope(unit)
        result = services().watchers.claim_next(
            current_actor(), unit, args["kind"], args.get("min_position")
        )
        if result is None:
            return "", 204
        return written(result, 200)


@blp.route("/<path:unit>/staff")
class UnitStaff(MethodView):
    @blp.arguments(ReadArgsSchema(), location="query")
    @blp.response(200, StaffListSchema)
    def get(self, args: dict[str, Any], unit: str) -> Any:
        """The unit's staff members (its own, not its subtree's), active or not."""
        within_scope(unit)
        partition = services().jurisdiction.district_of(unit)
        members = services().reads.staff(partition, unit, args.get("min_position"))
        return {"items": [to_data(m) for m in members]}


@blp.route("/<path:unit>/duty")
class Duty(MethodView):
    @blp.arguments(DutyArgsSchema(), location="query")
    @blp.response(200, DutySchema)
    def get(self, args: dict[str, Any], unit: str) -> Any:
        """Night duty (值班) of each community in the unit's subtree: who is on duty now, and
        the coverage of the coming night with its gaps."""
        within_scope(unit)
        svc = services()
        tz = ZoneInfo(svc.config.timezone)
        now = svc.incidents.clock()
        night = args.get("night") or now.astimezone(tz).date()
        start, end = night_window(night, tz)
        partition = svc.jurisdiction.district_of(unit)
        communities = [
            u
            for u in svc.jurisdiction.units.values()
            if u.level is Level.COMMUNITY and svc.jurisdiction.within(u.id, unit)
        ]
        found = []
        for community in sorted(communities, key=lambda u: u.id):
            members = svc.reads.staff(partition, community.id, args.get("min_position"))
            covered = coverage(members, community.id, start, end)
            found.append(
                {
                    "unit": community.id,
                    "name": community.name,
                    "on_duty_now": [m.id for m in on_duty(members, community.id, now)],
                    "covered": [
                        {"start": a.isoformat(), "end": b.isoformat()} for a, b in covered.covered
                    ],
                    "gaps": [
                        {"start": a.isoformat(), "end": b.isoformat()} for a, b in covered.gaps
                    ],
                    "complete": covered.complete,
                }
            )
        return {
            "night_start": start.isoformat(),
            "night_end": end.isoformat(),
            "communities": found,
        }


@blp.route("/<path:unit>/stats")
class DailyStats(MethodView):
    @blp.arguments(StatsArgsSchema(), location="query")
    @blp.response(200, StatsSchema)
    def get(self, args: dict[str, Any], unit: str) -> Any:
        """One local day's counts for the unit's subtree, by unit, kind and metric: reported,
        epidemic, signed and resolved on time or late, return visits, breaches, escalations."""
        within_scope(unit)
        svc = services()
        day = args["date"].isoformat()
        raw = svc.reads.day_counts(
            svc.jurisdiction.district_of(unit), day, args.get("min_position")
        )
        counts: dict[str, dict[str, dict[str, int]]] = {}
        for field, n in raw.items():
            where, kind, metric = field.split("|", 2)
            if svc.jurisdiction.within(where, unit):
                counts.setdefault(where, {}).setdefault(kind, {})[metric] = n
        return {"date": day, "unit": unit, "counts": counts}

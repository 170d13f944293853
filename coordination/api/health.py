"""Health: the server answers, and how far each partition's projections lag behind its log."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from redis.exceptions import RedisError

from coordination.api.parsing import Blueprint
from coordination.api.reading import services
from schemas.queries import HealthSchema

blp = Blueprint("health", __name__, description="Health")


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="Redis does not answer.")
    @blp.doc(security=[])
    def get(self) -> Any:
        """Liveness and projection lag per partition (head position minus checkpoint)."""
        try:
            lags = [services().projector.lag(p) for p in services().partitions]
        except RedisError as exc:
            body = {"status": "unavailable", "redis": str(exc), "partitions": []}
            return body, 503, {"Retry-After": "1"}
        partitions = [
            {"partition": g.partition, "head": g.head, "checkpoint": g.checkpoint, "lag": g.lag}
            for g in lags
        ]
        warnings = services().calendar_warnings()
        status = "warning" if warnings else "ok"
        return {"status": status, "redis": "ok", "partitions": partitions, "warnings": warnings}

"""The baseline: a Flask app whose one POST endpoint does one raw XADD of the request body.

Run under gunicorn exactly like the real API (``bench.trivial_app:create_app()`` with
REDIS_URL), it shows what Flask + gunicorn + one fsynced write cost on this machine, so the real
endpoint can be judged as a ratio of it.
"""

from __future__ import annotations

import os

from flask import Flask, request
from redis import Redis

STREAM = "bench:trivial"


def create_app() -> Flask:
    app = Flask("bench-trivial")
    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))

    @app.post("/events")
    def append() -> tuple[dict[str, str], int]:
        entry_id = redis.xadd(STREAM, {"e": request.get_data()})
        return {"id": entry_id.decode()}, 201

    @app.get("/health")
    def health() -> dict[str, bool]:
        return {"ok": True}

    return app

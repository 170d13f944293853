"""The Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask
from redis import Redis

from coordination.api import errors, requestlog
from coordination.bootstrap import build_services
from coordination.config import Config
from coordination.handlers.base import Clock


def create_app(
    config: Config | None = None, redis: Redis | None = None, clock: Clock | None = None
) -> Flask:
    from coordination.api import (
        dashboard,
        dashboard_page,
        docs,
        health,
        incidents,
        intake,
        me,
        metrics,
        open311,
        outage,
        pages,
        reports,
        staff,
        supplies,
        supplies_reads,
        units,
    )

    config = config or Config.from_env()
    # Static files: the dashboard page's (coordination/api/static), at /dashboard/static.
    app = Flask("coordination", static_folder="api/static", static_url_path="/dashboard/static")
    app.config.update(
        API_TITLE="coordination",
        API_VERSION="1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        # Swagger UI's files from the app itself (coordination.api.docs): nothing from outside.
        OPENAPI_SWAGGER_UI_URL=docs.ASSETS_URL,
        OPENAPI_SWAGGER_UI_CONFIG=docs.SWAGGER_UI_CONFIG,
        MAX_CONTENT_LENGTH=config.max_content_length,
        JSON_AS_ASCII=False,
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["coordination"] = services = build_services(config, redis, clock)
    requestlog.register(app)  # first, so that its request id is there for the rest
    for warning in services.calendar_warnings():
        logging.getLogger("coordination").warning(warning)
    api = errors.Api(app)
    for blueprint in (
        incidents.blp,
        intake.blp,
        units.blp,
        staff.blp,
        me.blp,
        health.blp,
        dashboard.blp,
        dashboard_page.blp,
        pages.blp,
        reports.blp,
        supplies.blp,
        supplies_reads.blp,
    ):
        api.register_blueprint(blueprint)
    app.register_blueprint(open311.blp)  # Open311 GeoReport v2: its own formats and errors
    docs.register(app)
    errors.register(app)
    outage.register(app)
    metrics.register(app, api)  # GET /metrics, and every request counted
    return app

"""The Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask
from redis import Redis

from coordination.api import errors
from coordination.bootstrap import build_services
from coordination.config import Config
from coordination.handlers.base import Clock


def create_app(
    config: Config | None = None, redis: Redis | None = None, clock: Clock | None = None
) -> Flask:
    from coordination.api import (
        dashboard,
        dashboard_page,
        health,
        incidents,
        me,
        outage,
        reports,
        staff,
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
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        MAX_CONTENT_LENGTH=config.max_content_length,
        JSON_AS_ASCII=False,
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["coordination"] = services = build_services(config, redis, clock)
    for warning in services.calendar_warnings():
        logging.getLogger("coordination").warning(warning)
    api = errors.Api(app)
    for blueprint in (
        incidents.blp,
        units.blp,
        staff.blp,
        me.blp,
        health.blp,
        dashboard.blp,
        dashboard_page.blp,
        reports.blp,
    ):
        api.register_blueprint(blueprint)
    errors.register(app)
    outage.register(app)
    return app

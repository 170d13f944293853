"""The Flask application factory."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask
from redis import Redis

from coordination.api import errors, requestlog
from coordination.bootstrap import build_services
from coordination.config import Config
from coordination.handlers.base import Clock


class App(Flask):
    """Flask, without the per-call check for coroutines: none of this app's views or hooks is
    ``async`` (``create_app`` refuses one), so ``ensure_sync`` hands each function back as it
    is instead of inspecting it again on every request (eleven times a request, measured)."""

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        return func

    def refuse_coroutines(self) -> None:
        hooks = [
            *self.view_functions.values(),
            *(f for funcs in self.before_request_funcs.values() for f in funcs),
            *(f for funcs in self.after_request_funcs.values() for f in funcs),
            *(f for funcs in self.teardown_request_funcs.values() for f in funcs),
            *(f for handlers in self.error_handler_spec.values()
              for codes in handlers.values() for f in codes.values()),
        ]  # fmt: skip
        for view in self.view_functions.values():  # a MethodView's methods are called apart
            view_class = getattr(view, "view_class", None)
            hooks += [getattr(view_class, m.lower()) for m in getattr(view_class, "methods", ())]
        found = [f for f in hooks if inspect.iscoroutinefunction(inspect.unwrap(f))]
        if found:
            raise TypeError(f"async views or hooks need Flask's own ensure_sync: {found}")


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
    app = App("coordination", static_folder="api/static", static_url_path="/dashboard/static")
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
    app.refuse_coroutines()
    return app

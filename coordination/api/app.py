"""The Flask application factory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask
from redis import Redis

from coordination.api import errors
from coordination.config import Config
from coordination.domain.units import Jurisdiction
from coordination.eventstore import EventStore
from coordination.service import Clock, IncidentService
from coordination.tokens import TokenStore


@dataclass(frozen=True)
class Services:
    redis: Redis
    jurisdiction: Jurisdiction
    store: EventStore
    tokens: TokenStore
    incidents: IncidentService


def build_services(
    config: Config, redis: Redis | None = None, clock: Clock | None = None
) -> Services:
    """Everything the API and the CLI need, built from configuration."""
    redis = redis or Redis.from_url(config.redis_url)
    jurisdiction = load_jurisdiction(config)
    store = EventStore(redis, idempotency_ttl=config.idempotency_ttl_seconds)
    incidents = IncidentService(store, jurisdiction, clock or _utcnow, config.timezone)
    return Services(redis, jurisdiction, store, TokenStore(redis), incidents)


def load_jurisdiction(config: Config) -> Jurisdiction:
    return Jurisdiction.from_dict(json.loads(config.units_file.read_text(encoding="utf-8")))


def create_app(
    config: Config | None = None, redis: Redis | None = None, clock: Clock | None = None
) -> Flask:
    from coordination.api import incidents

    config = config or Config.from_env()
    app = Flask("coordination")
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
    app.extensions["coordination"] = build_services(config, redis, clock)
    api = errors.Api(app)
    api.register_blueprint(incidents.blp)
    errors.register(app)
    return app


def _utcnow() -> datetime:
    return datetime.now(UTC)

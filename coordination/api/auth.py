"""Bearer-token authentication: every request of the API blueprints carries a token."""

from __future__ import annotations

from flask import current_app, g, request
from flask_smorest import abort

from coordination.domain.access import Actor
from coordination.store.tokens import Token


def authenticate() -> None:
    """Resolve the request's bearer token into ``g.token``, or answer 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        abort(
            401,
            message="A bearer token is required.",
            errors={"headers": {"Authorization": ["Missing or not a Bearer token."]}},
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = current_app.extensions["coordination"].tokens.lookup(secret.strip())
    if token is None:
        abort(
            401,
            message="Unknown or revoked token.",
            errors={"headers": {"Authorization": ["Unknown or revoked token."]}},
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    g.token = token


def current_token() -> Token:
    token: Token = g.token
    return token


def current_actor() -> Actor:
    return current_token().actor

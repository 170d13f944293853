"""Open311 GeoReport v2 (https://github.com/open311/open311.github.io, GeoReport/v2): a second
front door, beside our own API, for third-party 311 clients, in JSON and XML."""

from __future__ import annotations

from flask import Blueprint

blp = Blueprint("open311", __name__, url_prefix="/open311/v2")

# The routes register themselves on ``blp`` when their modules are imported.
from coordination.api.open311 import openapi, reads, writes  # noqa: E402, F401

"""Supplies: the catalogue, donations, transfers, pleas and stock-takes (the writes)."""

from __future__ import annotations

from coordination.api.auth import authenticate
from coordination.api.parsing import Blueprint

blp = Blueprint(
    "supplies", __name__, url_prefix="/supplies", description="Supplies and donations: writes"
)
blp.before_request(authenticate)

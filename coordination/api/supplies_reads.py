"""Supplies as the projections have them: stock, reconciliation, pleas, shortages, and the
public list of donations (捐赠公示)."""

from __future__ import annotations

from coordination.api.parsing import Blueprint

blp = Blueprint(
    "supplies_reads",
    __name__,
    url_prefix="/supplies",
    description="Supplies and donations: what is on hand, where, and what came in",
)

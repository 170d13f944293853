"""A district that has supplies: the catalogue the tests name items from, and stock to draw.

Since delivery orders draw on the ledgers, an order of masks is handed down, claimed and
resolved only where masks are in stock. Tests about orders (not about stock) start from a
district whose every unit has plenty: ``stock_up(services)``. Tests about stock seed their own.
"""

from __future__ import annotations

import contextlib
from typing import Any

from coordination.domain.access import Actor, Role
from coordination.domain.commands import ReceiveDonation
from coordination.domain.errors import Conflict
from coordination.domain.values import (
    CatalogueItem,
    Donor,
    DonorKind,
    Line,
    SupplyCategory,
)

DISTRICT = "gangwen"
ADMIN = Actor("admin@gangwen", Role.ADMIN, DISTRICT)

CATALOGUE = (
    CatalogueItem("口罩", SupplyCategory.PROTECTION, "个"),
    CatalogueItem("额温枪", SupplyCategory.TEMPERATURE, "把"),
    CatalogueItem("84消毒液", SupplyCategory.DISINFECTION, "斤"),
    CatalogueItem("医用酒精", SupplyCategory.DISINFECTION, "桶"),
    CatalogueItem("防护服", SupplyCategory.PROTECTION, "件"),
    CatalogueItem("纸巾", SupplyCategory.DAILY_NEEDS, "箱"),
)

PLENTY = 1_000_000


def seed_catalogue(services: Any, district: str = DISTRICT) -> None:
    """The standard catalogue (items that are there already are left as they are)."""
    for item in CATALOGUE:
        with contextlib.suppress(Conflict):
            services.supplies.catalogue.add(ADMIN, district, item)


def stock_up(
    services: Any,
    items: tuple[str, ...] = ("口罩",),
    quantity: int = PLENTY,
    district: str = DISTRICT,
) -> None:
    """The catalogue, and ``quantity`` of each item donated to every unit below the district
    (a unit stocked already, by another app on the same server, is left as it is)."""
    seed_catalogue(services, district)
    donor = Donor(DonorKind.COMPANY, "测试捐赠单位")
    lines = tuple(Line(item, quantity) for item in items)
    for unit in services.jurisdiction.units.values():
        if unit.parent is None or services.jurisdiction.district_of(unit.id) != district:
            continue
        if services.supplies.ledger(district, unit.id).donations:
            continue
        services.supplies.execute(
            ADMIN, unit.id, ReceiveDonation(unit.id, donor, "库管员", items=lines)
        )


def donate(services: Any, unit: str, *lines: tuple[str, int]) -> None:
    """``lines`` of catalogue items donated to ``unit`` (by the admin, for a test's stock)."""
    donor = Donor(DonorKind.COMPANY, "测试捐赠单位")
    donation = ReceiveDonation(unit, donor, "库管员", items=tuple(Line(i, n) for i, n in lines))
    services.supplies.execute(ADMIN, unit, donation)

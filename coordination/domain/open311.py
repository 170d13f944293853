"""Open311 GeoReport v2 in our words: the services we offer through it, their attributes, and
how an order's state reads to an Open311 client (open/closed, public or not, notes)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from coordination.domain.values import Category, Kind, Status

Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
OpenClosed = Literal["open", "closed"]

ITEM, QUANTITY, HOME_QUARANTINE = "item", "quantity", "home_quarantine"
GROUP_HOTLINE, GROUP_EPIDEMIC = "热线工单", "疫情防控"


@dataclass(frozen=True)
class Value:
    key: str
    name: str


@dataclass(frozen=True)
class Attribute:
    """One of a service's extra fields, as the spec's service definition describes it."""

    code: str
    datatype: Datatype
    required: bool
    description: str
    order: int
    datatype_description: str = ""
    values: tuple[Value, ...] = ()
    variable: bool = True
    catalogue_items: bool = False  # values are the district's catalogue items, filled in later


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    description: str
    group: str
    kind: Kind
    category: Category | None = None
    attributes: tuple[Attribute, ...] = ()

    @property
    def metadata(self) -> bool:
        return bool(self.attributes)


_DELIVERY_ATTRIBUTES = (
    Attribute(
        ITEM,
        "singlevaluelist",
        True,
        "物资名称",
        1,
        datatype_description="从本区物资目录中选一项",
        catalogue_items=True,
    ),
    Attribute(
        QUANTITY,
        "number",
        True,
        "数量",
        2,
        datatype_description="正整数,按物资目录的计量单位",
    ),
    Attribute(
        HOME_QUARANTINE,
        "singlevaluelist",
        False,
        "是否居家隔离户",
        3,
        datatype_description="默认为否",
        values=(Value("true", "是"), Value("false", "否")),
    ),
)

SERVICES: dict[str, Service] = {
    s.code: s
    for s in (
        Service(
            "consultation",
            "咨询",
            "政策、办事等咨询",
            GROUP_HOTLINE,
            Kind.WORK_ORDER,
            Category.CONSULTATION,
        ),
        Service("tip", "建议线索", "建议与线索", GROUP_HOTLINE, Kind.WORK_ORDER, Category.TIP),
        Service(
            "complaint", "投诉", "投诉与求助", GROUP_HOTLINE, Kind.WORK_ORDER, Category.COMPLAINT
        ),
        Service(
            "supply_delivery",
            "物资配送",
            "向住户配送防疫或生活物资",
            GROUP_EPIDEMIC,
            Kind.SUPPLY_DELIVERY,
            attributes=_DELIVERY_ATTRIBUTES,
        ),
        Service(
            "night_emergency",
            "夜间突发",
            "夜间突发情况,由社区值班人员处置",
            GROUP_EPIDEMIC,
            Kind.NIGHT_EMERGENCY,
        ),
    )
}


def attributes_for(service: Service, item_names: Iterable[str]) -> tuple[Attribute, ...]:
    """The service's attributes with the catalogue's item names as the values of ``item``."""
    names = tuple(Value(n, n) for n in item_names)
    return tuple(replace(a, values=names) if a.catalogue_items else a for a in service.attributes)


class IncidentLike(Protocol):
    """What the mapping reads of an incident (``coordination.domain.incident.Incident``)."""

    @property
    def kind(self) -> Kind | None: ...
    @property
    def category(self) -> Category | None: ...
    @property
    def status(self) -> Status: ...
    @property
    def home_quarantine(self) -> bool: ...
    @property
    def return_reason(self) -> str: ...
    @property
    def resolution(self) -> str: ...


def service_of(incident: IncidentLike) -> Service | None:
    """The Open311 service an order belongs to, or None (a quarantine visit)."""
    for service in SERVICES.values():
        if service.kind is incident.kind and service.category is incident.category:
            return service
    if incident.kind is Kind.WORK_ORDER:
        return SERVICES["consultation"]
    return None


def is_public(incident: IncidentLike) -> bool:
    """Whether Open311's public reads may show the order at all: never a quarantine visit nor a
    delivery to a household under home quarantine."""
    if incident.kind is Kind.QUARANTINE_VISIT or incident.kind is None:
        return False
    if incident.kind is Kind.SUPPLY_DELIVERY and incident.home_quarantine:
        return False
    return service_of(incident) is not None


_CLOSED = frozenset({Status.RESOLVED, Status.VISITED, Status.CLOSED})


def status_of(incident: IncidentLike) -> OpenClosed:
    return "closed" if incident.status in _CLOSED else "open"


STATUS_NAMES: dict[Status, str] = {
    Status.NEW: "新建",
    Status.DISPATCHED: "已派发,待签收",
    Status.SIGNED: "已签收,办理中",
    Status.RETURNED: "已退回,待重新派发",
    Status.HANDED_DOWN: "已下派社区,待认领",
    Status.CLAIMED: "社区处理中",
    Status.RESOLVED: "已办结,待回访",
    Status.VISITED: "已回访",
    Status.CLOSED: "已关闭",
}


def status_notes(incident: IncidentLike) -> str:
    """Our status in Chinese, and the return reason or the resolution if there is one."""
    notes = [STATUS_NAMES[incident.status]]
    if incident.status is Status.RETURNED and incident.return_reason:
        notes.append("退回原因:" + incident.return_reason)
    if incident.resolution:
        notes.append("办理结果:" + incident.resolution)
    return ";".join(notes)


class PersonLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def phone(self) -> str: ...


_PHONE_LIKE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?\d(?:[- ]?\d){6,}(?!\d)")
REDACTED = "***"


def public_text(text: str, address: str = "", people: Iterable[PersonLike | None] = ()) -> str:
    """Free text fit for Open311's public reads: the residents' names and phones and the street
    address taken out where they appear in it, and any run of digits that looks like a phone."""
    secrets = [address] if address else []
    for person in people:
        if person is not None:
            secrets += [s for s in (person.name, person.phone) if s]
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _PHONE_LIKE.sub(REDACTED, text)

"""Open311 writes: POST requests (a form, with an api_key).

A third-party client files an order as a form (``application/x-www-form-urlencoded``); the
order then lives the same life as one posted to ``POST /incidents``: the same command through
the same handler, the same events, the same idempotency (an ``Idempotency-Key`` header).

- ``api_key`` is a token secret of the ``open311`` role (a client of one district): an unknown
  secret or another role's is refused (403), before anything else is looked at.
- Where: ``address_string`` names one of our places (丽都花园, or a longer address that contains
  one: the longest place name it contains wins); if it names none, ``lat``/``long`` are located
  by the communities' boundaries; neither → 400 saying what is missing or unknown. A located
  point is kept (with any address_string) as the order's street address, which Open311 never
  shows.
- The reporter: ``last_name`` + ``first_name`` (family name first, as in Chinese; with a space
  and in the given order when both are Latin) and ``phone``. Without a name the reporter is
  匿名 (anonymous); without a phone, the phone is empty. Open311 never shows either.
- ``email``, ``device_id``, ``account_id``, ``media_url`` and ``address_id`` are accepted and
  not kept (``address_id`` is not supported: it counts as no location).
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from flask import Response, g, request

from coordination.api.incidents import IDEMPOTENCY_KEY
from coordination.api.open311 import blp
from coordination.api.open311.errors import Open311Error
from coordination.api.open311.render import FORMATS, respond
from coordination.api.reading import services
from coordination.domain.access import Forbidden, OutOfScope, Role
from coordination.domain.errors import DomainError, UnknownPlace
from coordination.domain.open311 import (
    GROUP_EPIDEMIC,
    HOME_QUARANTINE,
    ITEM,
    QUANTITY,
    SERVICES,
    Service,
)
from coordination.domain.units import Unit
from coordination.domain.values import Contact, SupplyItem
from coordination.store.eventstore import Idempotency, IdempotencyKeyReused
from coordination.store.tokens import Token

DESCRIPTION_MAX = 4000  # the spec's limit
ADDRESS_MAX = 200  # our incidents' address
NAME_MAX = 50
PHONE = re.compile(r"\+?[0-9][0-9 -]{4,19}")  # as our own API takes a reporter's phone
ANONYMOUS = "匿名"
QUANTITY_MAX = 1_000_000
TITLE_HEAD = 30  # characters of the description in the title
ATTRIBUTE = re.compile(r"attribute\[([^\[\]]+)\](\[\])?")


@blp.post("/requests.<fmt>")
def post_request(fmt: str) -> Response:
    """POST Service Request: file an order; answered at once with its id."""
    if fmt not in FORMATS:
        raise Open311Error(400, f"format: {fmt!r} is not served; ask for .json or .xml")
    body = request.get_data(cache=True)  # before the form is parsed: the idempotency hash
    form = request.form
    token = _client(_value(form, "api_key"))
    g.token = token  # the request log names the token (its id, never the secret)
    district = _district(token, _value(form, "jurisdiction_id"))
    service = _service(_value(form, "service_code"))
    place, address = _location(form, district)
    description = _value(form, "description") or ""
    if len(description) > DESCRIPTION_MAX:
        raise Open311Error(
            400,
            f"description: at most {DESCRIPTION_MAX:,} characters, "
            f"this one has {len(description):,}",
        )
    fields: dict[str, Any] = {
        "kind": service.kind,
        "category": service.category,
        "title": _title(service, description),
        "description": description,
        "place": place,
        "address": address,
        "epidemic": service.group == GROUP_EPIDEMIC,
        "reporter": _reporter(form),
        **_attributes(form, service, district),
    }
    try:
        result = services().incidents.report(token.actor, fields, _idempotency(token, body))
    except (Forbidden, OutOfScope) as exc:
        raise Open311Error(403, f"api_key: {exc.message}") from None
    except UnknownPlace as exc:
        raise Open311Error(400, f"unknown place: {exc.place}") from None
    except IdempotencyKeyReused:
        raise Open311Error(400, "Idempotency-Key: used before with a different request") from None
    except DomainError as exc:
        raise Open311Error(400, f"{exc.field}: {exc.message}") from None
    incident = result.incident
    holder = services().jurisdiction.units.get(incident.unit)
    notice = f"已受理,已派至{holder.name}办理" if holder is not None else "已受理"
    answer = respond(
        fmt,
        "service_requests",
        "request",
        [{"service_request_id": incident.id, "service_notice": notice, "account_id": None}],
        201,
    )
    answer.headers["Idempotency-Key"] = g.idempotency_key
    if result.replayed:
        answer.headers["Idempotent-Replayed"] = "true"
    return answer


def _value(form: Any, name: str) -> str | None:
    """A form field, stripped; empty counts as not sent (the spec's "optional" rule)."""
    raw = form.get(name)
    if raw is None or not raw.strip():
        return None
    return str(raw).strip()


def _client(secret: str | None) -> Token:
    if secret is None:
        raise Open311Error(403, "api_key: required")
    token = services().tokens.lookup(secret)
    if token is None:
        raise Open311Error(403, "api_key: invalid (unknown or revoked)")
    if token.role is not Role.OPEN311:
        raise Open311Error(403, "api_key: invalid (not an Open311 client's key)")
    return token


def _district(token: Token, jurisdiction_id: str | None) -> str:
    """The district the order is for: ``jurisdiction_id``, needed only where the units file
    has more than one district; a client files in its own district only."""
    jurisdiction = services().jurisdiction
    districts = list(services().partitions)
    if jurisdiction_id is None:
        if len(districts) > 1:
            raise Open311Error(
                400, f"jurisdiction_id: required (one of {', '.join(sorted(districts))})"
            )
        return districts[0]
    if jurisdiction_id not in districts:
        raise Open311Error(404, f"jurisdiction_id: no jurisdiction {jurisdiction_id!r}")
    if jurisdiction.district_of(token.unit) != jurisdiction_id:
        raise Open311Error(403, f"api_key: not a key for jurisdiction {jurisdiction_id}")
    return jurisdiction_id


def _service(code: str | None) -> Service:
    if code is None:
        raise Open311Error(400, "service_code: required")
    service = SERVICES.get(code)
    if service is None:
        raise Open311Error(404, f"service_code: {code} not found")
    return service


def _location(form: Any, district: str) -> tuple[str, str]:
    """(place, address): a place the handler resolves to a unit, and the street address."""
    jurisdiction = services().jurisdiction
    address_string = _value(form, "address_string")
    if address_string is not None and len(address_string) > ADDRESS_MAX:
        raise Open311Error(400, f"address_string: at most {ADDRESS_MAX} characters")
    lat, lon = _value(form, "lat"), _value(form, "long")
    if address_string is not None:
        place = _place_in(address_string)
        if place is not None:
            _check_district(jurisdiction.resolve(place), district, "address_string")
            return place, "" if place == address_string else address_string
        if lat is None and lon is None:
            raise Open311Error(
                400, f"address_string: {address_string} names no place we know in {district}"
            )
    if lat is None and lon is None:
        raise Open311Error(400, "location: send lat and long, or address_string")
    if lat is None or lon is None:
        raise Open311Error(400, f"{'lat' if lat is None else 'long'}: required with the other")
    latitude = _degrees("lat", lat, 90)
    longitude = _degrees("long", lon, 180)
    unit = jurisdiction.locate(latitude, longitude)
    if unit is None:
        raise Open311Error(
            400, f"lat/long: {lat},{lon} lies in none of the communities of {district}"
        )
    _check_district(unit, district, "lat/long")
    point = f"{latitude:.6f},{longitude:.6f}"
    return unit.id, point if address_string is None else f"{address_string} ({point})"


def _place_in(address: str) -> str | None:
    """The place an address names: itself if it is a place name or unit id, else the longest
    place name it contains."""
    jurisdiction = services().jurisdiction
    if address in jurisdiction.places or address in jurisdiction.units:
        return address
    found = [name for name in jurisdiction.places if name in address]
    return max(found, key=len) if found else None


def _check_district(unit: Unit, district: str, field: str) -> None:
    if services().jurisdiction.district_of(unit.id) != district:
        raise Open311Error(400, f"{field}: {unit.name} is not in {district}")


def _degrees(name: str, raw: str, limit: int) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name}: not a number") from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise Open311Error(400, f"{name}: not between -{limit} and {limit}")
    return value


def _title(service: Service, description: str) -> str:
    head = " ".join(description.split())[:TITLE_HEAD]
    if len(" ".join(description.split())) > TITLE_HEAD:
        head += "…"
    return f"{service.name}:{head}" if head else service.name


def _reporter(form: Any) -> Contact:
    first, last = _value(form, "first_name"), _value(form, "last_name")
    parts = [p for p in (first, last) if p]
    if all(p.isascii() for p in parts):
        name = " ".join(parts)  # John Smith
    else:
        name = "".join(p for p in (last, first) if p)  # 张 + 三 = 张三
    if len(name) > NAME_MAX:
        raise Open311Error(400, f"first_name/last_name: at most {NAME_MAX} characters together")
    phone = _value(form, "phone") or ""
    if phone and not PHONE.fullmatch(phone):
        raise Open311Error(400, "phone: not a phone number")
    return Contact(name or ANONYMOUS, phone)


def _attributes(form: Any, service: Service, district: str) -> dict[str, Any]:
    """The service's attributes (``attribute[code]`` or ``attribute[code][]``) as fields of
    the order; codes the service does not define are ignored."""
    given: dict[str, list[str]] = {}
    for key in form:
        match = ATTRIBUTE.fullmatch(key)
        if match is not None:
            values = [v.strip() for v in form.getlist(key) if v.strip()]
            if values:
                given.setdefault(match.group(1), []).extend(values)
    if not service.attributes:
        return {}
    for attribute in service.attributes:
        if attribute.required and attribute.code not in given:
            raise Open311Error(400, f"attribute[{attribute.code}]: required")
        if attribute.datatype != "multivaluelist" and len(given.get(attribute.code, ())) > 1:
            raise Open311Error(400, f"attribute[{attribute.code}]: one value only")
    # The one service with attributes: a supply delivery (coordination/domain/open311.py).
    item = given[ITEM][0]
    catalogue = services().supplies.catalogue.current(district).items
    if item not in catalogue:
        raise Open311Error(400, f"attribute[{ITEM}]: {item} is not in the supplies catalogue")
    quantity = given[QUANTITY][0]
    if not re.fullmatch(r"[0-9]{1,7}", quantity) or not 0 < int(quantity) <= QUANTITY_MAX:
        raise Open311Error(400, f"attribute[{QUANTITY}]: a whole number from 1 to {QUANTITY_MAX:,}")
    home = given.get(HOME_QUARANTINE, ["false"])[0]
    if home not in ("true", "false"):
        raise Open311Error(400, f"attribute[{HOME_QUARANTINE}]: true or false")
    return {
        "items": (SupplyItem(item, int(quantity)),),
        "home_quarantine": home == "true",
    }


def _idempotency(token: Token, body: bytes) -> Idempotency:
    """As ``POST /incidents`` keys a write (coordination/api/incidents.py), over the form:
    the client's ``Idempotency-Key`` or one drawn here; the request hash leaves out the
    format, so that the same form sent to requests.json and requests.xml is one request."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise Open311Error(400, "Idempotency-Key: 1 to 128 letters, digits or . _ : -")
    path = request.path.rsplit(".", 1)[0]
    digest = hashlib.sha256()
    for part in (request.method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    if key is None:
        found = Idempotency.drawn(token.id, digest.hexdigest())
    else:
        found = Idempotency(token.id, key, digest.hexdigest())
    g.idempotency_key = found.key
    return found

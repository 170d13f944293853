"""The codec of stored records and projected views (msgspec) against the one it replaced
(``to_data`` + ``json.dumps``): each reads what the other wrote, for any life of an incident."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import msgspec
from hypothesis import given
from test_incident_properties import SETTINGS, run, sequences

from coordination.domain.commands import Command
from coordination.projections import views
from coordination.projections.views import View
from coordination.store.mapper import decode_json, default_mapper, encode_json, to_data

MAPPER = default_mapper()
SHANGHAI = timezone(timedelta(hours=8))


def old_json(obj: object) -> str:
    """How records' data and views were written before msgspec (a view was a dataclass then,
    its fields written as ``to_data`` writes a dataclass's)."""
    if isinstance(obj, msgspec.Struct):
        data = {name: to_data(getattr(obj, name)) for name in obj.__struct_fields__}
    else:
        data = to_data(obj)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@SETTINGS
@given(sequences())
def test_events_read_back_from_either_encoding(sequence: list[Command]) -> None:
    _, history = run(sequence)
    for event in history:
        name, version = MAPPER.type_of(event)
        assert MAPPER.from_json(name, version, encode_json(event)) == event
        assert MAPPER.from_json(name, version, old_json(event).encode()) == event
        # the same data either way (the times here have +08:00, which both write alike; UTC is
        # Z in one and +00:00 in the other: see the last test), so old and new records look
        # alike to any reader
        assert json.loads(encode_json(event)) == json.loads(old_json(event))


@SETTINGS
@given(sequences())
def test_views_read_back_from_either_encoding(sequence: list[Command]) -> None:
    state, _ = run(sequence)
    made = datetime(2020, 2, 8, 8, 0, 0, 123456, tzinfo=SHANGHAI)
    view = View(state, made, made + timedelta(hours=1), 7, 1, made, ("x|sign|1",))
    assert views.decode(views.encode(view)) == view
    assert views.decode(old_json(view)) == view


def test_times_keep_their_instant_and_offset() -> None:
    """UTC is written as Z, an offset as itself; both read back as the same instant, with the
    offset they were written in (as ``datetime.fromisoformat`` reads them)."""
    utc = datetime(2026, 12, 4, 23, 59, 59, 5, tzinfo=UTC)
    local = utc.astimezone(SHANGHAI)
    assert encode_json(utc) == b'"2026-12-04T23:59:59.000005Z"'
    assert encode_json(local) == b'"2026-12-05T07:59:59.000005+08:00"'
    for moment in (utc, local):
        back = decode_json(datetime, encode_json(moment))
        assert back == moment and back.utcoffset() == moment.utcoffset()
        assert decode_json(datetime, json.dumps(moment.isoformat())) == moment

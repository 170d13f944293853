"""What every schema that reads a request shares: text that can be stored, whole numbers as JSON
Schema counts them, and dates and times within the one range the API supports."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

# One range for every date and time the API takes. Within it the time zone answers in whole
# minutes (Asia/Shanghai's local mean time, +08:05:43, ended in 1901), nothing overflows, and an
# order made on its last day, with its longest deadline, still fits a queue's urgency score
# (deadline minutes packed in 26 bits, to August 2097: coordination/projections/views.py).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2096, 12, 31)
SUPPORTED = f"From {FIRST_DAY} to {LAST_DAY}."
MAX_VERSION = 9_999_999_999  # the 10 digits an If-Match header may carry

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
UNENCODABLE = "Not valid Unicode text: a lone surrogate (\\ud800 to \\udfff) is no character."
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
OFFSET = r"(Z|[+-][0-9]{2}:[0-9]{2})"
RFC3339 = re.compile(DAY.pattern + r"T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?" + OFFSET)


class RequestSchema(Schema):
    """The base of every schema that reads a request. JSON may carry a lone surrogate
    (``"\\ud800"``), which json.loads keeps but no UTF-8 encoder takes, neither the store's
    nor the answer's: it is refused wherever it is, in a value or a key, naming where."""

    @pre_load
    def refuse_lone_surrogates(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, Mapping) and (errors := unencodable(data)):
            raise ValidationError(errors)
        return data


def unencodable(data: Mapping[Any, Any]) -> dict[Any, Any]:
    """The strings of ``data``, keys too, that UTF-8 cannot encode, as nested errors (list
    items by index, as marshmallow nests them); walked without recursion, however deep."""
    found: dict[Any, Any] = {}
    stack: list[tuple[tuple[Any, ...], Any]] = [((), data)]
    while stack:
        path, node = stack.pop()
        items = node.items() if isinstance(node, Mapping) else enumerate(node)
        for key, value in items:
            if isinstance(key, str) and LONE_SURROGATE.search(key):
                _put(found, (*path, _escaped(key)))
            elif isinstance(value, str):
                if LONE_SURROGATE.search(value):
                    _put(found, (*path, key))
            elif isinstance(value, Mapping | list):
                stack.append(((*path, key), value))
    return found


def _escaped(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")


def _put(errors: dict[Any, Any], path: tuple[Any, ...]) -> None:
    for part in path[:-1]:
        errors = errors.setdefault(part, {})
    errors[path[-1]] = [UNENCODABLE]


class Pattern(validate.Regexp):
    """A pattern the whole value matches, written ``^...$`` for the spec, which JSON Schema
    (ECMA 262) reads as this does: with ``fullmatch``, no trailing newline slips past ``$``."""

    def __init__(self, regex: str, error: str | None = None) -> None:
        super().__init__(f"^(?:{regex})$", error=error)

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def _described(kwargs: dict[str, Any], note: str) -> dict[str, Any]:
    metadata = dict(kwargs.pop("metadata", None) or {})
    metadata["description"] = f"{metadata.get('description', '')} {note}".strip()
    return {**kwargs, "metadata": metadata}


class WholeNumber(fields.Integer):
    """An integer as JSON Schema counts one: ``5`` or ``5.0``, never ``5.5``, ``"5"`` or
    ``true``."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():  # neither NaN nor infinity is
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


def Version(**kwargs: Any) -> WholeNumber:  # noqa: N802 - reads as a field class
    """The version a client expects, as an If-Match header could carry it."""
    note = "The version the write expects, as If-Match would carry it: another one is a 409."
    return WholeNumber(validate=validate.Range(min=0, max=MAX_VERSION), **_described(kwargs, note))


def MinPosition(**kwargs: Any) -> fields.Integer:  # noqa: N802 - reads as a field class
    """A query's ``min_position``: read only once the projections have reached it."""
    note = "Wait (bounded) until the projections reach this position."
    return fields.Integer(validate=validate.Range(min=0), **_described(kwargs, note))


class Day(fields.Date):
    """A local date, ``YYYY-MM-DD``, within the supported range."""

    default_error_messages = {"range": f"Must be a date from {FIRST_DAY} to {LAST_DAY}."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_described(kwargs, SUPPORTED))

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str) or not DAY.fullmatch(value):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        day = super()._deserialize(value, attr, data, **kwargs)
        if not FIRST_DAY <= day <= LAST_DAY:
            raise self.make_error("range")
        return day


class Moment(fields.AwareDateTime):
    """An RFC 3339 date-time with its offset (``2026-03-02T22:00:00+08:00``), dated within
    the supported range where it was written."""

    default_error_messages = {
        "invalid": "Not an RFC 3339 date-time with an offset, such as 2026-03-02T22:00:00+08:00.",
        "range": f"Must be a time from {FIRST_DAY} to {LAST_DAY}.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_described(kwargs, f"RFC 3339, with an offset. {SUPPORTED}"))

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or not RFC3339.fullmatch(value.upper()):
            raise self.make_error("invalid")
        moment = super()._deserialize(value.upper(), attr, data, **kwargs)
        if not FIRST_DAY <= moment.date() <= LAST_DAY:
            raise self.make_error("range")
        return moment

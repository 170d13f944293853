"""Open311 answers in the spec's two formats: JSON (a list, or one object where the spec has
one) and XML (``text/xml; charset=utf-8``, an XML declaration, no namespace, the spec's element
names)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Response, request

FORMATS = ("json", "xml")
XML_TYPE = "text/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
# The element of each member of a list field, as the spec writes them.
MEMBER = {
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "keywords": "keyword",
}
# Characters XML 1.0 cannot carry, not even escaped: a strict parser refuses the document.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def format_of_request() -> str:
    """The format the current request asks for: its route's ``fmt`` if known, else the path's
    suffix (for answers to requests no route matched); JSON by default."""
    fmt = (request.view_args or {}).get("fmt")
    if fmt in FORMATS:
        return str(fmt)
    return "xml" if request.path.lower().endswith(".xml") else "json"


def respond(
    fmt: str, root_name: str, item_name: str, items: Iterable[Mapping[str, Any]], status: int = 200
) -> Response:
    """A list of items: a JSON array, or ``<root_name><item_name>…</item_name>…</root_name>``."""
    items = list(items)
    if fmt == "xml":
        root = ET.Element(root_name)
        for item in items:
            _fill(ET.SubElement(root, item_name), item)
        return xml_response(root, status)
    return json_response(items, status)


def respond_object(fmt: str, root_name: str, obj: Mapping[str, Any], status: int = 200) -> Response:
    """One object (discovery, a service definition): a JSON object, or ``<root_name>…``."""
    if fmt == "xml":
        root = ET.Element(root_name)
        _fill(root, obj)
        return xml_response(root, status)
    return json_response(obj, status)


def json_response(body: Any, status: int = 200) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status=status, content_type=JSON_TYPE)


def xml_response(root: ET.Element, status: int = 200) -> Response:
    text = DECLARATION + ET.tostring(root, encoding="unicode")
    return Response(text.encode("utf-8"), status=status, content_type=XML_TYPE)


def _fill(element: ET.Element, obj: Mapping[str, Any]) -> None:
    for key, value in obj.items():
        child = ET.SubElement(element, key)
        if isinstance(value, Mapping):
            _fill(child, value)
        elif isinstance(value, list | tuple):
            member = MEMBER.get(key, key.rstrip("s") or "item")
            for each in value:
                sub = ET.SubElement(child, member)
                if isinstance(each, Mapping):
                    _fill(sub, each)
                else:
                    sub.text = _text(each)
        else:
            child.text = _text(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))

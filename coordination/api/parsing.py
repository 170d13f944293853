"""Request parsing: flask-smorest's blueprint, with JSON the parser cannot take kept a 400."""

from __future__ import annotations

import json
from typing import Any

import flask
import flask_smorest
from webargs.flaskparser import FlaskParser


class Parser(FlaskParser):
    """webargs maps only JSONDecodeError to 400; json.loads also raises RecursionError (deep
    nesting) and a plain ValueError (integers of thousands of digits). Both are bad input."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as exc:
            raise json.JSONDecodeError(f"unreadable JSON: {type(exc).__name__}", "", 0) from exc


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    ARGUMENTS_PARSER = Parser()

"""Request parsing: flask-smorest's blueprint, with JSON the parser cannot take kept a 400 in
the one error shape."""

from __future__ import annotations

import json
from typing import Any

import flask
import flask_smorest
from flask_smorest import abort
from webargs.flaskparser import FlaskParser, is_json_request


class Parser(FlaskParser):
    """A body that is not JSON is refused rather than read as no body (which would drop an
    ``expected_version``); and JSON that json.loads cannot take (RecursionError on deep nesting,
    ValueError on integers of thousands of digits) is a 400 like any malformed JSON."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req) and req.get_data(cache=True):
            abort(
                415,
                message="A request body must be JSON (Content-Type: application/json).",
                errors={"headers": {"Content-Type": ["Not application/json."]}},
            )
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as exc:
            self._handle_invalid_json_error(
                json.JSONDecodeError(type(exc).__name__, "<body>", 0), req
            )

    def _handle_invalid_json_error(
        self, error: Exception, req: flask.Request, *args: Any, **kwargs: Any
    ) -> Any:
        # Like any problem of the body as a whole: {"json": {"_schema": [...]}}, not a bare list.
        abort(400, exc=error, messages={"json": {"_schema": ["Invalid JSON body."]}})


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    ARGUMENTS_PARSER = Parser()

"""Swagger UI at ``/docs`` with nothing from outside: its files are served by the app itself.

flask-smorest renders the page (its ``swagger_ui.html``) and loads Swagger UI's CSS and scripts
from ``OPENAPI_SWAGGER_UI_URL``; that URL is ``ASSETS_URL`` here, where a blueprint's static
route serves the ``dist`` folder of the ``flask-swagger-ui`` package (Swagger UI's own
release files; the package follows Swagger UI's versions, see its ``dist/VERSION``). Only its
files are used, not its blueprint: that renders a second page of its own at ``/docs/``.

* ``GET /docs/static/<file>``: the endpoint ``ASSETS_ENDPOINT``, a static route, not an
  operation of the API (so not in ``/openapi.json``); no token; a missing file is a 404 in
  the one JSON error shape (flask-smorest's handler of HTTP errors answers it).
* ``SWAGGER_UI_CONFIG`` turns off Swagger UI's online validator badge: on any host but
  localhost it loads an image from validator.swagger.io, passing it the spec's URL. The page's
  layout (Swagger UI's base layout) has no badge today; this keeps it off should another
  layout be chosen in ``OPENAPI_SWAGGER_UI_CONFIG``.
"""

from __future__ import annotations

from importlib.resources import files

from flask import Blueprint, Flask

NAME = "swagger-ui-assets"
ASSETS_ENDPOINT = f"{NAME}.static"
ASSETS_URL = "/docs/static/"
SWAGGER_UI_CONFIG = {"validatorUrl": None}


def dist_folder() -> str:
    """The folder of Swagger UI's release files, as the ``flask-swagger-ui`` package ships it."""
    return str(files("flask_swagger_ui").joinpath("dist"))


def register(app: Flask) -> None:
    """Serve Swagger UI's files at ``ASSETS_URL``, for the page flask-smorest renders."""
    assets = Blueprint(
        NAME,
        __name__,
        static_folder=dist_folder(),
        static_url_path=ASSETS_URL.rstrip("/"),
    )
    app.register_blueprint(assets)

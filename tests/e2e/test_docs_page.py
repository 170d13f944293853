"""The API's docs at /docs work with no network: Swagger UI's files come from the app itself
(``coordination.api.docs``), never from a CDN.

The browser test opens the page in Debian's chromium (the dashboard page test's launch
options) under a host name that is not ``localhost`` (Swagger UI's online validator badge
shows on any other host, were it in the page's layout), aborts every request that is not to
the test server and fails on any such attempt; a screenshot is kept in
``test-artifacts/docs.png``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_dashboard_page import ARTIFACTS, CHROMIUM_ARGS, Links, chromium
from werkzeug.serving import make_server

from coordination.api.docs import ASSETS_URL, dist_folder

# A name for the loopback address, mapped in the browser itself (no DNS, no /etc/hosts).
HOST = "coordination.test"
CONTENT_TYPES = {
    ".css": {"text/css"},
    ".js": {"text/javascript", "application/javascript"},
}


@pytest.fixture
def port(app: Flask) -> Iterator[int]:
    """The app served over HTTP on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(10)


def test_swagger_ui_renders_with_every_outside_request_aborted(port: int) -> None:
    from playwright.sync_api import Route, sync_playwright
    from playwright.sync_api import TimeoutError as Timeout

    executable = chromium()
    origin = f"http://{HOST}:{port}"
    outside: list[str] = []  # every request to anywhere else: none may even be attempted
    failed: list[str] = []  # the page's own requests that failed

    def only_the_server(route: Route) -> None:
        url = route.request.url
        if f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" == origin:
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=args)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/*", only_the_server)
            page.on("requestfailed", lambda request: failed.append(f"failed {request.url}"))
            page.on(
                "response",
                lambda answer: (
                    failed.append(f"{answer.status} {answer.url}") if answer.status >= 400 else None
                ),
            )
            page.goto(origin + "/docs")
            report = page.locator(".opblock.opblock-post").filter(
                has=page.locator('.opblock-summary-path[data-path="/incidents"]')
            )
            try:
                report.wait_for(state="visible", timeout=15_000)
            except Timeout as exc:
                raise AssertionError(f"no POST /incidents; outside: {outside}; {failed}") from exc
            assert page.title() == "coordination"
            assert page.locator(".info .title").inner_text().startswith("coordination")
            assert "/incidents" in report.locator(".opblock-summary-path").inner_text()
            # swagger-ui.css applied: a POST's block is tinted its green (#49cc90 at 10%).
            background = report.evaluate("node => getComputedStyle(node).backgroundColor")
            assert background == "rgba(73, 204, 144, 0.1)", background
            page.wait_for_load_state("networkidle")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "docs.png"))
        finally:
            browser.close()
    assert not outside, outside
    assert not failed, failed


def inline_config(page: str) -> dict[str, Any]:
    """The Swagger UI settings the page passes to ``SwaggerUIBundle``."""
    found = re.search(r"var override_config = (\{.*?\});", page)
    assert found, page
    config: dict[str, Any] = json.loads(found.group(1))
    return config


def test_the_page_loads_only_same_origin_files_and_each_is_served(client: FlaskClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert not re.findall(r"[a-z][a-z0-9+.-]*://", page, re.IGNORECASE)  # no CDN
    assert not re.findall(r"""["'(=]\s*//""", page)  # nor a scheme-relative URL
    assert 'url: "/openapi.json"' in page
    assert inline_config(page) == {"validatorUrl": None}  # no badge from validator.swagger.io
    links = Links()
    links.feed(page)
    assert {tag for tag, _ in links.loads} == {"link", "script"}, links.loads
    for _, url in links.loads:
        assert url.startswith(ASSETS_URL), url
        answer = client.get(url)
        assert answer.status_code == 200, url
        suffix = Path(url).suffix
        assert answer.mimetype in CONTENT_TYPES[suffix], (url, answer.content_type)
        assert answer.mimetype_params.get("charset") == "utf-8", (url, answer.content_type)
        assert (
            answer.get_data() == (Path(dist_folder()) / url.removeprefix(ASSETS_URL)).read_bytes()
        )
        assert "no-cache" in answer.headers["Cache-Control"]  # a new release is never stale


def test_the_description_is_unchanged_by_the_docs_files(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert not [path for path in spec["paths"] if path.startswith("/docs")], spec["paths"]
    assert "/incidents" in spec["paths"]


def test_a_missing_docs_file_is_a_404_in_the_one_error_shape(
    client: FlaskClient, expect_error: Callable[..., dict[str, Any]]
) -> None:
    for path in (
        "/docs/static/nope.js",
        "/docs/static/",
        "/docs/static/%2e%2e/templates/index.template.html",  # the package's, not a dist file
        "/docs/static/%2e%2e/flask_swagger_ui.py",
        "/docs/nope.js",
    ):
        expect_error(client.get(path), 404)
    expect_error(client.post("/docs/static/swagger-ui.css"), 405)

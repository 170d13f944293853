"""What the browser tests share: Debian's chromium for Playwright (a missing one fails the test,
never skips it), its arguments, the folder screenshots are kept in, and the real app served over
HTTP on a loopback port (a threaded werkzeug server: a live stream holds its thread)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from coordination.api.streams import POLL_SECONDS, streams_stop

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium() -> str:
    """The chromium executable, or a failed test saying how to get one."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        pytest.fail(
            "chromium is not installed: the pages are tested in a real browser. "
            "On Debian/Ubuntu: apt-get install -y chromium fonts-noto-cjk (.ci/run does this); "
            "elsewhere see README 'Live dashboard'."
        )
    return found


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app served over HTTP on a free loopback port, one thread per request; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        streams_stop(app).set()  # open streams end (their threads outlive the server's loop)
        server.shutdown()
        thread.join(10)
        time.sleep(POLL_SECONDS * 2)

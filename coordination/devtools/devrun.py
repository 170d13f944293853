"""``make run``: a private server (unless REDIS_URL is set), the API, a worker, demo tokens."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click

from coordination.bootstrap import Services, build_services
from coordination.config import Config
from coordination.devtools.demo.data import CATALOGUE
from coordination.devtools.embedded import EmbeddedServer
from coordination.domain.access import Actor, Role
from coordination.domain.units import Level
from coordination.domain.values import StaffKind

DEMO_TOKENS = [
    (Role.DISPATCHER, "gangwen", "demo-dispatcher"),
    (Role.HANDLER, "gangwen/chenqiao", "demo-handler-chenqiao"),
    (Role.FIELD, "gangwen/chenqiao/lidu", "demo-field-lidu"),
    (Role.VIEWER, "gangwen", "demo-viewer"),
    (Role.ADMIN, "gangwen", "demo-admin"),
]


def run(config: Config) -> None:
    """Start everything, print the URL and the demo tokens, keep it all running until Ctrl-C."""
    check_port(config.host, config.port)  # before anything starts, or prints a URL
    config.archive_dir.mkdir(parents=True, exist_ok=True)  # `coordination archive` writes here
    server = None
    url_file = config.data_dir / "redis.url"
    if "REDIS_URL" not in os.environ:
        server = EmbeddedServer(config.data_dir / "redis")
        server.start()
        url_file.write_text(server.url)  # so that CLI commands find it
        config = Config.from_env({**os.environ, "REDIS_URL": server.url})
        print(f"embedded server: {server.url} (data and AOF in {config.data_dir / 'redis'})")
    env = {**os.environ, "REDIS_URL": config.redis_url}
    bin_dir = Path(sys.executable).parent
    children = [
        Child(
            "api",
            [
                str(bin_dir / "gunicorn"),
                "--config", "python:coordination.gunicorn_conf",
                "--bind", f"{config.host}:{config.port}",
                # One line per request (coordination/serving/accesslog.py), text on a terminal.
                "--access-logfile", "-",
            ],
            env,
        ),
        Child("worker", [str(bin_dir / "coordination"), "worker"], env),
        Child("scheduler", [str(bin_dir / "coordination"), "scheduler"], env),
    ]  # fmt: skip
    # Children run in sessions of their own: Ctrl-C or SIGTERM reaches this process alone,
    # which stops the API and the worker before the server they write to.
    # SIGINT too: a shell starting this in the background may have set it to be ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        for child in children:
            child.start()
        print_demo(config)
        while True:  # a child (or the server) that dies is started again, not the end of all
            if server is not None and not server.running:
                print("the embedded server exited; starting it again", file=sys.stderr)
                server.start()
            for child in children:
                child.keep_alive()
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait()
        if server is not None:
            server.stop()
            url_file.unlink(missing_ok=True)


def check_port(host: str, port: int) -> None:
    """Refuse at once, in one line, a port the API could not listen on (gunicorn would try for
    a few seconds, after the URL and the tokens were printed, then give up)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as sock:
            # As gunicorn binds: a port left in TIME_WAIT by an earlier run is free to it.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        why = "is taken" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
        raise click.ClickException(
            f"{host}:{port} {why}; set COORDINATION_PORT to a free port "
            f"(e.g. COORDINATION_PORT={port + 1} make run)"
        ) from None


class Child:
    """One process of the local run, started again with backoff whenever it exits."""

    BACKOFF_SECONDS = (0.5, 10.0)  # the first wait before a restart, and the longest

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.wait_seconds = self.BACKOFF_SECONDS[0]
        self.restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, env=self.env, start_new_session=True)
        self.started = time.monotonic()
        self.restart_at = None

    def keep_alive(self) -> None:
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
            return
        if self.process is None or (code := self.process.poll()) is None:
            return
        if now - self.started > 60:
            self.wait_seconds = self.BACKOFF_SECONDS[0]  # it had been running: a new failure
        print(
            f"{self.name} exited with code {code}; starting it again in {self.wait_seconds:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        self.restart_at = now + self.wait_seconds
        self.wait_seconds = min(self.wait_seconds * 2, self.BACKOFF_SECONDS[1])

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


DEMO_STAFF = {
    "demo-field-lidu": {"name": "李红 (demo)", "kind": StaffKind.VOLUNTEER, "trained": True},
}


def demo_staff(services: Services) -> None:
    """Field tokens belong to registered staff: register the demo's, if they are not."""
    admin = Actor("demo-setup", Role.ADMIN, "gangwen")
    for role, unit, name in DEMO_TOKENS:
        if role is not Role.FIELD or services.staff.member_of(Actor(name, role, unit)):
            continue
        profile = DEMO_STAFF[name]
        fields = {
            "staff_id": name,
            "name": profile["name"],
            "unit": unit,
            "kind": profile["kind"],
            "party_member": True,
            "quarantine_trained": profile["trained"],
        }
        services.staff.register(admin, fields)


def demo_catalogue(services: Services) -> None:
    """The district's supplies catalogue (口罩/个, 额温枪/把, 84消毒液/斤…), the items it lacks:
    a delivery order names catalogue items."""
    admin = Actor("demo-setup", Role.ADMIN, "gangwen")
    known = services.supplies.catalogue.current("gangwen").items
    for item in CATALOGUE:
        if item.name not in known:
            services.supplies.catalogue.add(admin, "gangwen", item)


def demo_tokens(config: Config) -> dict[str, str]:
    """The demo tokens, kept in the data folder and created again if they were lost."""
    services = build_services(config)
    demo_staff(services)
    demo_catalogue(services)
    path = config.data_dir / "demo-tokens.json"
    saved: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    tokens = {}
    # With a units file that puts a city above the district (city.json), its platform too.
    cities = [u.id for u in services.jurisdiction.ancestors("gangwen") if u.level is Level.CITY]
    for role, unit, name in [*DEMO_TOKENS, *((Role.CITY, c, "demo-city") for c in cities)]:
        secret = saved.get(name)
        if secret is None or services.tokens.lookup(secret) is None:
            secret, _ = services.tokens.create(role, unit, name)
        tokens[name] = secret
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tokens, indent=2))
    path.chmod(0o600)
    return tokens


def print_demo(config: Config) -> None:
    base = f"http://{config.host}:{config.port}"
    print(f"\nAPI:      {base}\nOpenAPI:  {base}/openapi.json\nDocs:     {base}/docs\n")
    print(f"Demo tokens (also in {config.data_dir / 'demo-tokens.json'}):")
    for name, secret in demo_tokens(config).items():
        print(f"  {name:24} {secret}")
    print(f"\nCtrl-C stops everything; the data stays in {config.data_dir}/.\n", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt

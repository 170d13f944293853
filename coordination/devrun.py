"""``make run``: a private server (unless REDIS_URL is set), the API, a worker, demo tokens."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from coordination.config import Config
from coordination.domain.access import Actor, Role
from coordination.domain.staff import StaffKind
from coordination.embedded import EmbeddedServer
from coordination.services import Services, build_services

# Jobs run in the worker's own process: a catch-up is visible ~10 ms after its append instead of
# ~100 ms (a forked child imports the app for every job); a job that crashes the process takes
# the worker down with it, and the next start resumes from the checkpoint.
WORKER_CLASS = "rq.worker.SimpleWorker"

DEMO_TOKENS = [
    (Role.DISPATCHER, "gangwen", "demo-dispatcher"),
    (Role.HANDLER, "gangwen/chenqiao", "demo-handler-chenqiao"),
    (Role.FIELD, "gangwen/chenqiao/lidu", "demo-field-lidu"),
    (Role.VIEWER, "gangwen", "demo-viewer"),
    (Role.ADMIN, "gangwen", "demo-admin"),
]


def run(config: Config) -> None:
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
    processes = [
        subprocess.Popen(
            [
                str(bin_dir / "gunicorn"),
                "--config", "python:coordination.gunicorn_conf",
                "--bind", f"{config.host}:{config.port}",
            ],
            env=env,
            start_new_session=True,
        ),
        subprocess.Popen(
            [
                str(bin_dir / "rq"), "worker",
                "--url", config.redis_url,
                "--serializer", "json",
                "--worker-class", WORKER_CLASS,
                "--with-scheduler",
                config.queue,
            ],
            env=env,
            start_new_session=True,
        ),
        subprocess.Popen(
            [str(bin_dir / "coordination"), "scheduler"],
            env=env,
            start_new_session=True,
        ),
    ]  # fmt: skip
    # Children run in sessions of their own: Ctrl-C or SIGTERM reaches this process alone,
    # which stops the API and the worker before the server they write to.
    # SIGINT too: a shell starting this in the background may have set it to be ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        print_demo(config)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print("a process exited; stopping the rest", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        if server is not None:
            server.stop()
            url_file.unlink(missing_ok=True)


DEMO_STAFF = {
    "demo-field-lidu": {"name": "李红 (demo)", "kind": StaffKind.VOLUNTEER, "trained": True},
}


def demo_staff(services: Services) -> None:
    """Field tokens belong to registered staff: register the demo's, if they are not."""
    admin = Actor("demo-setup", Role.ADMIN, "gangwen")
    for role, unit, name in DEMO_TOKENS:
        if role is not Role.FIELD or services.incidents.staff_member(Actor(name, role, unit)):
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


def demo_tokens(config: Config) -> dict[str, str]:
    """The demo tokens, kept in the data folder and created again if they were lost."""
    services = build_services(config)
    demo_staff(services)
    path = config.data_dir / "demo-tokens.json"
    saved: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    tokens = {}
    for role, unit, name in DEMO_TOKENS:
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

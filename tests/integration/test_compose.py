"""docker-compose.yml and the Dockerfile agree with the code they run (no Docker needed)."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from coordination.config import Config

ROOT = Path(__file__).resolve().parents[2]
FACTORY = re.compile(r"^(?P<module>[\w.]+):(?P<name>\w+)\(\)$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            pairs.append((instruction.upper(), args.strip()))
    return pairs


def dockerfile_cmd() -> list[str]:
    cmds = [args for instruction, args in dockerfile_instructions() if instruction == "CMD"]
    command: list[str] = json.loads(cmds[-1])
    return command


def command_of(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    assert isinstance(command, list), "commands are exec-form lists, never shell strings"
    return command


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}


def test_redis_api_worker_and_scheduler_services_exist(services: dict[str, Any]) -> None:
    assert {"redis", "api", "worker", "scheduler"} <= services.keys()


def test_every_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name in ("redis", "api", "worker", "scheduler"):
        test = services[name].get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), name


def test_redis_appends_to_an_aof_fsynced_on_every_write(services: dict[str, Any]) -> None:
    command = command_of(services["redis"])
    assert option(command, "--appendonly") == "yes"
    assert option(command, "--appendfsync") == "always"


def test_redis_keeps_its_data_on_a_named_volume(compose: dict[str, Any]) -> None:
    mounts = compose["services"]["redis"]["volumes"]
    named = [m.split(":")[0] for m in mounts if m.endswith(":/data")]
    assert named and named[0] in (compose.get("volumes") or {})


def test_redis_healthcheck_pings(services: dict[str, Any]) -> None:
    test = " ".join(services["redis"]["healthcheck"]["test"])
    assert re.search(r"(valkey|redis)-cli ping", test)


def test_api_and_worker_wait_for_a_healthy_redis(services: dict[str, Any]) -> None:
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy", name


@pytest.mark.parametrize("service", ["api", "worker"])
def test_every_environment_variable_is_one_config_reads(
    services: dict[str, Any], service: str
) -> None:
    env = environment(services[service])
    assert env, f"{service} sets no environment"
    default = Config.from_env({})
    for name, value in env.items():
        Config.from_env({name: value})  # the compose value itself parses
        assert Config.from_env({name: "12345"}) != default, f"Config.from_env ignores {name}"


def test_an_unknown_variable_changes_no_setting() -> None:
    assert Config.from_env({"COORDINATION_NO_SUCH_SETTING": "12345"}) == Config.from_env({})


@pytest.mark.parametrize("service", ["api", "worker", "scheduler"])
def test_redis_url_points_at_the_redis_service(services: dict[str, Any], service: str) -> None:
    url = urlsplit(environment(services[service])["REDIS_URL"])
    assert (url.scheme, url.hostname, url.port or 6379) == ("redis", "redis", 6379)
    assert Config.from_env(environment(services[service])).redis_url == url.geturl()


def gunicorn_config(command: list[str]) -> Any:
    """The module a gunicorn command takes its configuration from (``python:<module>``)."""
    location = option(command, "--config")
    assert location.startswith("python:"), "the configuration is a module of the package"
    return importlib.import_module(location.removeprefix("python:"))


def test_api_runs_the_app_factory_under_gunicorn(services: dict[str, Any]) -> None:
    command = command_of(services["api"])
    assert command[0] == "gunicorn"
    assert not [arg for arg in command if FACTORY.match(arg)], "the app comes from the config"
    match = FACTORY.match(gunicorn_config(command).wsgi_app)
    assert match is not None
    factory = getattr(importlib.import_module(match["module"]), match["name"])
    assert callable(factory)


def test_api_serves_with_the_shipped_worker_logger_and_limits(services: dict[str, Any]) -> None:
    from gunicorn.glogging import Logger
    from gunicorn.util import load_class
    from gunicorn.workers.base import Worker

    from coordination.serving.accesslog import RedactingLogger

    conf = gunicorn_config(command_of(services["api"]))
    assert issubclass(load_class(conf.worker_class), Worker)
    logger = load_class(conf.logger_class)
    assert issubclass(logger, Logger) and issubclass(logger, RedactingLogger)
    assert conf.keepalive > 0, "keepalive bounds reading a request's headers"
    assert conf.worker_connections > 0 and conf.request_body_timeout > 0
    assert callable(conf.post_worker_init)


@pytest.mark.parametrize("where", ["compose", "Dockerfile"])
def test_api_logs_access_through_the_redacting_logger(services: dict[str, Any], where: str) -> None:
    command = command_of(services["api"]) if where == "compose" else dockerfile_cmd()
    assert option(command, "--access-logfile") == "-"
    assert "--logger-class" not in command, "the config's logger redacts tokens"
    for overridden in ("--worker-class", "-k", "--threads", "--keep-alive", "--workers", "-w"):
        assert overridden not in command, f"{overridden} would override the shipped config"


def test_api_listens_on_the_published_port(services: dict[str, Any]) -> None:
    bind = option(command_of(services["api"]), "--bind")
    host, _, port = bind.rpartition(":")
    assert host == "0.0.0.0"
    assert f"{port}:{port}" in [str(p) for p in services["api"]["ports"]]


def test_api_healthcheck_url_is_served_by_the_app(services: dict[str, Any], redis_url: str) -> None:
    from coordination.api.app import create_app

    test = " ".join(services["api"]["healthcheck"]["test"])
    url = urlsplit(re.search(r"https?://[^'\"\s]+", test).group(0))  # type: ignore[union-attr]
    assert str(url.port) == option(command_of(services["api"]), "--bind").rpartition(":")[2]
    response = create_app(Config(redis_url=redis_url)).test_client().get(url.path)
    assert response.status_code == 200
    assert response.json["redis"] == "ok", "the health check must reach Redis"


def test_worker_is_the_one_that_rides_out_outages(services: dict[str, Any]) -> None:
    """``coordination worker``, as make run runs it (tests/integration/test_ride_out.py)."""
    assert command_of(services["worker"]) == ["coordination", "worker"]


def test_scheduler_runs_the_tick_scheduler(services: dict[str, Any]) -> None:
    from coordination.store import keys

    scheduler = services["scheduler"]
    assert command_of(scheduler) == ["coordination", "scheduler"]
    assert keys.scheduler_heartbeat() in " ".join(scheduler["healthcheck"]["test"])


def test_worker_url_is_the_one_the_app_reads(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert environment(worker)["REDIS_URL"] == environment(services["api"])["REDIS_URL"]
    assert Config.from_env(environment(worker)).queue == Config().queue


def test_dockerfile_runs_the_same_command_as_compose(services: dict[str, Any]) -> None:
    assert dockerfile_cmd() == command_of(services["api"])


def test_dockerfile_installs_the_project_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert any(i == "RUN" and re.search(r"pip install \S", a) for i, a in instructions)
    users = [args for instruction, args in instructions if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_api_serves_with_the_same_config_as_make_run(services: dict[str, Any]) -> None:
    import inspect

    from coordination.devtools import devrun

    location = option(command_of(services["api"]), "--config")
    assert f'"--config", "{location}"' in inspect.getsource(devrun.run)


# --- the cluster profile ------------------------------------------------------------------

CLUSTER_NODES = [f"node-{i}" for i in range(1, 7)]
CLUSTER_APPS = ["cluster-api", "cluster-worker", "cluster-scheduler"]


def test_the_cluster_profile_has_six_nodes_that_fsync_every_write(services: dict[str, Any]) -> None:
    for name in CLUSTER_NODES:
        node = services[name]
        assert node["profiles"] == ["cluster"], name
        command = command_of(node)
        assert option(command, "--cluster-enabled") == "yes", name
        assert option(command, "--appendonly") == "yes", name
        assert option(command, "--appendfsync") == "always", name
        assert re.search(r"(valkey|redis)-cli ping", " ".join(node["healthcheck"]["test"]))


def test_a_one_shot_job_makes_the_nodes_a_cluster_with_a_replica_each(
    services: dict[str, Any],
) -> None:
    job = services["cluster-create"]
    assert job["profiles"] == ["cluster"] and job["restart"] == "no"
    script = " ".join(command_of(job))
    assert "--cluster create" in script and "--cluster-replicas 1" in script
    assert [n for n in CLUSTER_NODES if f"{n}:6379" in script] == CLUSTER_NODES
    assert {n: d["condition"] for n, d in job["depends_on"].items()} == dict.fromkeys(
        CLUSTER_NODES, "service_healthy"
    )


def test_rq_has_a_standalone_server_of_its_own(services: dict[str, Any]) -> None:
    command = command_of(services["rq-redis"])
    assert "--cluster-enabled" not in command
    assert option(command, "--appendfsync") == "always"


@pytest.mark.parametrize("service", CLUSTER_APPS)
def test_the_cluster_apps_use_the_cluster_and_rq_s_own_server(
    services: dict[str, Any], service: str
) -> None:
    app = services[service]
    assert app["profiles"] == ["cluster"]
    config = Config.from_env(environment(app))
    seeds = [seed.split(":") for seed in config.redis_cluster_url.split(",")]
    assert [host for host, _ in seeds] == CLUSTER_NODES and {p for _, p in seeds} == {"6379"}
    assert urlsplit(config.rq_redis_url).hostname == "rq-redis"
    assert config.wait_replicas == 1  # a 201 once a replica's AOF has the append
    assert app["depends_on"]["cluster-create"]["condition"] == "service_completed_successfully"
    assert app["depends_on"]["rq-redis"]["condition"] == "service_healthy"
    for name in environment(app):
        assert Config.from_env({name: "12345"}) != Config.from_env({}), name


def test_the_cluster_apps_run_what_the_plain_ones_run(services: dict[str, Any]) -> None:
    for plain in ("api", "worker", "scheduler"):
        assert command_of(services[f"cluster-{plain}"]) == command_of(services[plain])
    assert services["cluster-worker"]["deploy"]["replicas"] >= 2  # districts in parallel
    assert "rq-redis" in " ".join(services["cluster-worker"]["healthcheck"]["test"])
    assert "rq-redis" in " ".join(services["cluster-scheduler"]["healthcheck"]["test"])

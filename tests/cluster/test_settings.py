"""Settings that name the wrong kind of server stop the commands and the API's start-up with a
message naming the setting: a cluster URL on a plain server, a cluster that does not serve
every slot, RQ's queues on a cluster node, a cluster without a server for RQ."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from coordination.devtools.cluster import EmbeddedCluster, free_cluster_port
from coordination.devtools.embedded import EmbeddedServer

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def run(
    env: dict[str, str], *command: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("COORDINATION_", "REDIS", "RQ_"))
    }
    base["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        list(command), env={**base, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def slotless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """A node in cluster mode that serves no slot: a cluster not (yet) made."""
    args = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")

    node = EmbeddedServer(
        tmp_path_factory.mktemp("slotless"), port=free_cluster_port(), extra_args=args
    )
    node.start()
    try:
        yield node
    finally:
        node.stop()


def test_a_cluster_url_on_a_plain_server_is_refused_naming_it(redis_url: str) -> None:
    seed = redis_url.removeprefix("redis://").removesuffix("/0")
    done = run({"REDIS_CLUSTER_URL": seed, "RQ_REDIS_URL": redis_url},
               str(BIN / "coordination"), "projections", "lag")  # fmt: skip
    assert done.returncode == 1
    assert f"REDIS_CLUSTER_URL={seed}" in done.stderr
    assert "not a cluster node" in done.stderr and "Traceback" not in done.stderr


def test_a_cluster_with_slots_unserved_is_refused_naming_it(
    redis_url: str, slotless: EmbeddedServer
) -> None:
    seed = f"{slotless.host}:{slotless.port}"
    done = run({"REDIS_CLUSTER_URL": seed, "RQ_REDIS_URL": redis_url},
               str(BIN / "coordination"), "projections", "lag")  # fmt: skip
    assert done.returncode == 1
    assert f"REDIS_CLUSTER_URL={seed}" in done.stderr and "Traceback" not in done.stderr
    assert "slots" in done.stderr


def test_rq_on_a_cluster_node_or_nowhere_is_refused_naming_the_setting(
    cluster: EmbeddedCluster,
) -> None:
    node = cluster.nodes[0]
    on_cluster = f"redis://{node.host}:{node.port}/0"
    done = run({"REDIS_CLUSTER_URL": cluster.seeds, "RQ_REDIS_URL": on_cluster},
               str(BIN / "coordination"), "worker", "--burst")  # fmt: skip
    assert done.returncode == 1
    assert f"RQ_REDIS_URL={on_cluster} is a cluster node" in done.stderr
    assert "Traceback" not in done.stderr
    nowhere = run({"REDIS_CLUSTER_URL": cluster.seeds}, str(BIN / "coordination"), "scheduler")
    assert nowhere.returncode == 1
    assert "RQ_REDIS_URL must name a standalone server" in nowhere.stderr


def test_the_api_does_not_start_on_a_bad_cluster_setting(redis_url: str) -> None:
    seed = redis_url.removeprefix("redis://").removesuffix("/0")
    done = run(
        {"REDIS_CLUSTER_URL": seed, "RQ_REDIS_URL": redis_url, "COORDINATION_PORT": "0"},
        str(BIN / "gunicorn"), "-c", str(ROOT / "coordination" / "gunicorn_conf.py"),
        "--bind", "127.0.0.1:0",
    )  # fmt: skip
    assert done.returncode == 1
    assert f"REDIS_CLUSTER_URL={seed}" in done.stderr and "not a cluster node" in done.stderr
    assert "Booting worker" not in done.stderr and "Traceback" not in done.stderr

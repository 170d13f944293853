"""The cluster section of the bench (``--only cluster``): does a second shard buy throughput?

On a Valkey Cluster of 3 primaries and a replica each (the embedded server binary, every node
on ``appendfsync always``) and, beside it, a standalone server (RQ's, and the baseline):

1. Appends: ``WRITERS`` processes appending one command each (a report, then a signing, on
   streams of their own, half in each district), for ``--cluster-seconds``: on the standalone
   server, then on the cluster (the two districts on two shards).
2. Catch-up: each district filled with ``--cluster-events`` events of the read side's lives
   (interleaved, on ``appendfsync no`` while filling), then one projector process catching up
   one district, against two projector processes catching up the two districts at once.
   Target: the two together at least 1.5 times the events per second of the one. Measured on
   that cluster, and on one of 3 primaries without replicas: on 2 cores, the replicas'
   applying and fsyncing every write takes the CPU that a second projector would use.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from redis.cluster import RedisCluster

from bench import load
from bench.readside import fill_process
from bench.servers import cpu_seconds
from coordination.config import Config
from coordination.devtools.cluster import EmbeddedCluster
from coordination.devtools.embedded import EmbeddedServer
from coordination.domain.events import IncidentClosed, IncidentSignedFor
from coordination.store import keys
from coordination.store.connection import connect, connect_cluster
from coordination.store.eventstore import EventStore

DISTRICTS = ("gangwen", "haiyun")
WRITERS = 4
SCALE_TARGET = 1.5
CATCH_UP = """
import sys, time
from coordination.bootstrap import build_services
from coordination.config import Config
seeds, rq, district, gen = sys.argv[1:5]
services = build_services(Config(redis_url=rq, redis_cluster_url=seeds, rq_redis_url=rq))
services.redis.set("{" + district + "}:proj:generation", gen)
t, c = time.perf_counter(), time.process_time()
applied = services.projector.catch_up(district)
print(applied, time.perf_counter() - t, time.process_time() - c)
"""
ROUNDS = 3  # one district, then two, alternating; the median ratio is the figure


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster")
    g.add_argument("--cluster-events", type=int, default=0, help="events per district "
                   "(default 100,000; 20,000 with --quick)")  # fmt: skip
    g.add_argument("--cluster-seconds", type=float, default=0, help="seconds per append run "
                   "(default 10; 4 with --quick)")  # fmt: skip


@dataclass
class CatchUp:
    """One run: projector processes started together."""

    events: int
    seconds: float  # the slowest projector's, from its start to its end
    projector_cpu: float  # seconds, all projectors
    valkey_cpu: float  # seconds, every node of the cluster over the run

    @property
    def rate(self) -> float:
        return self.events / max(self.seconds, 1e-9)

    def cores(self) -> str:
        return (
            f"projectors {self.projector_cpu / self.seconds:.2f} + valkey "
            f"{self.valkey_cpu / self.seconds:.2f} cores"
        )


@dataclass
class Scale:
    shape: str  # of the cluster: "a replica each", "no replicas"
    rounds: list[tuple[CatchUp, CatchUp]]  # (one district by one, both by two), alternating

    @property
    def ratios(self) -> list[float]:
        return [two.rate / max(one.rate, 1e-9) for one, two in self.rounds]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def median_round(self) -> tuple[CatchUp, CatchUp]:
        return self.rounds[self.ratios.index(sorted(self.ratios)[len(self.ratios) // 2])]


@dataclass
class ClusterReport:
    appends_single: float = 0.0
    appends_cluster: float = 0.0
    scales: list[Scale] = field(default_factory=list)


def append_for(config: Config, index: int, seconds: float) -> int:
    """One writer process: commands on streams of its own, both districts, for ``seconds``."""
    client = connect(config)
    store = EventStore(client)
    now = datetime(2020, 2, 8, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    versions: dict[str, int] = {}
    done = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        district = DISTRICTS[done % 2]
        stream = f"{district}-bench-{index}-{done % 50}"
        version = versions.get(stream, 0)
        event = (
            IncidentSignedFor(unit=f"{district}/x", note="")
            if version % 2
            else (IncidentClosed(note=""))
        )
        now += timedelta(milliseconds=1)
        store.append(district, stream, version, [event], actor="bench", now=now)
        versions[stream] = version + 1
        done += 1
    client.close()
    return done


def _appends(config: Config, seconds: float) -> float:
    with mp.get_context("spawn").Pool(WRITERS) as pool:
        t = time.perf_counter()
        counts = pool.starmap(append_for, [(config, i, seconds) for i in range(WRITERS)])
        return sum(counts) / (time.perf_counter() - t)


def run(args: argparse.Namespace, tmp: Path, progress: Callable[[str], None]) -> ClusterReport:
    events = args.cluster_events or (20_000 if args.quick else 100_000)
    seconds = args.cluster_seconds or (4.0 if args.quick else 10.0)
    report = ClusterReport()
    with EmbeddedServer(tmp / "standalone") as single, EmbeddedCluster(tmp / "cluster") as cluster:
        cluster_config = Config(
            redis_url=single.url, redis_cluster_url=cluster.seeds, rq_redis_url=single.url
        )
        progress(f"cluster: appends by {WRITERS} writers for {seconds:g} s, standalone server")
        report.appends_single = _appends(Config(redis_url=single.url), seconds)
        progress(f"cluster: appends by {WRITERS} writers for {seconds:g} s, on the cluster")
        report.appends_cluster = _appends(cluster_config, seconds)

        report.scales.append(_scale(cluster, single.url, events, progress, "a replica each"))
    with EmbeddedCluster(tmp / "bare", replicas=0) as bare:
        report.scales.append(_scale(bare, single.url, events, progress, "no replicas"))
    return report


def _scale(
    cluster: EmbeddedCluster, rq: str, events: int, progress: Callable[[str], None], shape: str
) -> Scale:
    """Fill both districts, then one projector on one district against two at once."""
    client = connect_cluster(Config(redis_url=rq, redis_cluster_url=cluster.seeds))
    client.flushall(target_nodes=RedisCluster.PRIMARIES)
    owners = {d: cluster.owner(keys.log(d)).port for d in DISTRICTS}
    if len(set(owners.values())) != len(DISTRICTS):
        raise RuntimeError(f"the districts share a shard: {owners}")
    for node in client.get_primaries():
        client.config_set("appendfsync", "no", target_nodes=node)
    progress(f"cluster ({shape}): filling {', '.join(DISTRICTS)} with {events:,} events each")
    jobs = [
        (fill_process, (rq, 0, 1, events, 2000, 10**9 * i, d, cluster.seeds))
        for i, d in enumerate(DISTRICTS)
    ]
    load.run_processes(jobs, limit=1800)
    for node in client.get_primaries():
        client.config_set("appendfsync", "always", target_nodes=node)
    client.close()
    os.sync()  # the fill's writes on disk now, not written back under the catch-ups' fsyncs
    rounds, gen = [], 0
    for r in range(1, ROUNDS + 1):
        progress(f"cluster ({shape}) round {r}/{ROUNDS}: one projector catching up {DISTRICTS[0]}")
        one = _catch_up(cluster, rq, [(DISTRICTS[0], gen + 1)])
        progress(f"cluster ({shape}) round {r}/{ROUNDS}: two projectors, both districts at once")
        two = _catch_up(cluster, rq, [(DISTRICTS[0], gen + 2), (DISTRICTS[1], gen + 2)])
        rounds.append((one, two))
        gen += 2
    return Scale(shape, rounds)


def _catch_up(cluster: EmbeddedCluster, rq: str, runs: list[tuple[str, int]]) -> CatchUp:
    """Projector processes started together, each catching one district up into a fresh
    generation of its own; the events they applied, the slowest one's seconds, their CPU and
    the cluster's nodes' CPU meanwhile."""
    nodes = [node.pid for node in cluster.nodes if node.pid is not None]
    before = cpu_seconds(nodes)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CATCH_UP, cluster.seeds, rq, district, str(gen)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for district, gen in runs
    ]
    found: list[tuple[int, float, float]] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"a catch-up failed ({proc.returncode})")
        applied, seconds, cpu = out.split()
        found.append((int(applied), float(seconds), float(cpu)))
    return CatchUp(
        events=sum(n for n, _, _ in found),
        seconds=max(s for _, s, _ in found),
        projector_cpu=sum(c for _, _, c in found),
        valkey_cpu=cpu_seconds(nodes) - before,
    )


def print_report(report: ClusterReport) -> list[tuple[str, bool]]:
    ratio = report.appends_cluster / max(report.appends_single, 1e-9)
    print(
        f"  appends, {WRITERS} writers: standalone {report.appends_single:,.0f}/s, cluster "
        f"{report.appends_cluster:,.0f}/s ({ratio:.2f}x; not a target)"
    )
    targets = []
    for scale in report.scales:
        one, two = scale.median_round
        ok = scale.ratio >= SCALE_TARGET
        print(
            f"  catch-up, 3 primaries with {scale.shape}: one district, one projector "
            f"{one.events:,} events in {one.seconds:.1f} s ({one.rate:,.0f}/s; {one.cores()}); "
            f"two districts on two shards, two projectors {two.events:,} in {two.seconds:.1f} s "
            f"({two.rate:,.0f}/s; {two.cores()}): {scale.ratio:.2f}x   "
            f"(target >= {SCALE_TARGET:g}x)  {'PASS' if ok else 'MISS'}; by round "
            + " ".join(f"{r:.2f}" for r in scale.ratios)
        )
        targets.append((f"two districts / one district catch-up ({scale.shape}) = "
                        f"{scale.ratio:.2f}x", ok))  # fmt: skip
    print(
        "  each projector a process of its own; its time from its start to its end; every "
        "node on appendfsync always (no while filling); the two districts on two primaries; "
        f"{ROUNDS} rounds of one then two, the median round shown; cores = CPU seconds over "
        "the run's seconds (of 2 here)"
    )
    return targets

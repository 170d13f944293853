"""The bench: servers up, load, figures out, everything stopped again."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis import Redis

from bench import cluster, load, peer, readside
from bench.servers import REPO_ROOT, Gunicorn, HostCpu, WorkerConfig, cpu_seconds, cpu_split
from coordination.devtools.embedded import EmbeddedServer
from coordination.domain.access import Role
from coordination.store.tokens import TokenStore

API_APP = "coordination.api.app:create_app()"
TRIVIAL_APP = "bench.trivial_app:create_app()"
UNIT = "gangwen"
REPORT = {
    "kind": "work_order",
    "category": "complaint",
    "title": "口罩价格过高",
    "place": "丽都",
    "reporter": {"name": "张三", "phone": "13812345678"},
    "epidemic": True,
}
BODY = json.dumps(REPORT, ensure_ascii=False).encode()
RATIO_TARGET = 0.5
P99_TARGET_MS = 25.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="POST /incidents under gunicorn against a trivial Flask+XADD baseline, "
        "closed and open loop, on a private valkey server; then the read side: projector "
        "throughput against a naive one-job-per-event projector, and end-to-end freshness "
        "with a real RQ worker.",
    )
    p.add_argument(
        "--only",
        choices=["write-side", "read-side", "peer", "cluster"],
        help="run one section only (default: all four: the write side, the read side, the "
        "peer, the Python eventsourcing library, and the cluster)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="short run (~50 s): 2 s per write-side measurement, a smaller read side",
    )
    p.add_argument("--seconds", type=float, help="closed-loop duration per row (default 10)")
    p.add_argument("--open-seconds", type=float, help="open-loop duration (default: --seconds)")
    p.add_argument(
        "--rounds",
        type=int,
        help="closed loop: the trivial app and the API alternate in this many rounds of "
        "seconds/rounds each (default 5; --quick 2)",
    )
    p.add_argument("--warmup", type=float, help="warm-up before each closed-loop row (default 1)")
    p.add_argument("--conns", type=int, default=8, help="closed-loop connections (default 8)")
    p.add_argument("--procs", type=int, default=2, help="load generator processes (default 2)")
    p.add_argument("--rate", type=float, default=200.0, help="open-loop requests/s (default 200)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    p.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    p.add_argument("--no-gthread", action="store_true", help="skip the gthread workers")
    p.add_argument(
        "--no-shipped",
        action="store_true",
        help="skip the shipped config (coordination.gunicorn_conf: gevent workers, its hooks and "
        "limits, as make run and compose serve); the trivial app runs under it too",
    )
    p.add_argument("--xadds", type=int, help="raw pipelined XADDs (default 50000)")
    p.add_argument("--pipeline", type=int, default=100, help="XADDs per pipeline (default 100)")
    p.add_argument("--no-layers", action="store_true", help="skip the in-process breakdown")
    p.add_argument(
        "--appendfsync",
        default="always",
        choices=["always", "everysec", "no"],
        help="the server's fsync policy (default: always, as shipped)",
    )
    p.add_argument("--data-dir", type=Path, help="parent of the temporary data dir (default TMP)")
    p.add_argument(
        "--profile",
        action="store_true",
        help="after the measurements, one extra API run (the shipped workers, else the last "
        "configuration run) with py-spy attached to the workers, and one extra catch-up of "
        "the read-side partition with py-spy on this process; prints the hottest functions "
        "(needs py-spy)",
    )
    p.add_argument(
        "--api-app",
        default=API_APP,
        help=f"gunicorn app spec of the API (default {API_APP}); to A/B a variant, e.g. a "
        "factory in a scratch module found through PYTHONPATH",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir and logs")
    readside.add_arguments(p)
    peer.add_arguments(p)
    cluster.add_arguments(p)
    args = p.parse_args(argv)
    quick = args.quick
    args.seconds = args.seconds or (2.0 if quick else 10.0)
    args.open_seconds = args.open_seconds or args.seconds
    args.rounds = args.rounds or (2 if quick else 5)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if quick else 1.0)
    args.xadds = args.xadds or (10_000 if quick else 50_000)
    args.layer_seconds = 0.25 if quick else 1.0
    for name in ("conns", "procs", "workers", "threads", "pipeline", "rounds", "xadds"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    durations = (args.seconds, args.open_seconds)
    if not 0 < args.rate <= 5000 or not all(0 < d <= 600 for d in durations):
        p.error("--rate must be in (0, 5000], durations in (0, 600] s")
    if not 0 <= args.warmup <= 60:
        p.error("--warmup must be in [0, 60] s")
    readside.finish_arguments(args, p.error)
    peer.finish_arguments(args, p.error)
    return args


# --- figures -------------------------------------------------------------------------------


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (NaN when empty)."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass
class Row:
    name: str
    config: str
    results: list[load.Result]
    app_cpu_s: float
    app_sys_s: float  # the part of app_cpu_s spent in the kernel
    valkey_cpu_s: float
    host_busy_s: float  # CPU seconds of the whole machine (all cores) during the row
    host_steal_s: float
    host_total_s: float
    elapsed: float = 0.0  # seconds of load (summed over rounds); from the results if not given
    rounds: list[Row] = field(default_factory=list)
    latencies: list[float] = field(init=False)

    def __post_init__(self) -> None:
        self.latencies = sorted(x for r in self.results for x in r.latencies_ms)
        if not self.elapsed and self.results:
            self.elapsed = max(r.finished for r in self.results) - min(
                r.started for r in self.results
            )

    @classmethod
    def merge(cls, rounds: list[Row]) -> Row:
        """One row for several rounds of the same endpoint."""
        first = rounds[0]
        return cls(
            name=first.name,
            config=first.config,
            results=[r for row in rounds for r in row.results],
            app_cpu_s=sum(row.app_cpu_s for row in rounds),
            app_sys_s=sum(row.app_sys_s for row in rounds),
            valkey_cpu_s=sum(row.valkey_cpu_s for row in rounds),
            host_busy_s=sum(row.host_busy_s for row in rounds),
            host_steal_s=sum(row.host_steal_s for row in rounds),
            host_total_s=sum(row.host_total_s for row in rounds),
            elapsed=sum(row.elapsed for row in rounds),
            rounds=rounds,
        )

    @property
    def responses(self) -> int:
        return len(self.latencies)

    @property
    def ok(self) -> int:
        return sum(n for r in self.results for s, n in r.statuses.items() if 200 <= s < 300)

    @property
    def rps(self) -> float:
        """2xx responses per second."""
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def errors(self) -> int:
        return sum(r.error_count for r in self.results)

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)

    def per_request_ms(self, cpu_s: float) -> float:
        return 1000.0 * cpu_s / self.responses if self.responses else math.nan

    @property
    def gen_cpu_s(self) -> float:
        return sum(r.cpu_s for r in self.results)

    @property
    def busy(self) -> float:
        """Fraction of all cores busy during the row."""
        return self.host_busy_s / self.host_total_s

    @property
    def others(self) -> float:
        """Cores busy with anything but the bench's servers and generators (other tenants,
        kernel interrupt work): the noise on this row."""
        cores = os.cpu_count() or 1
        ours = self.app_cpu_s + self.valkey_cpu_s + self.gen_cpu_s
        return max(self.host_busy_s - ours, 0.0) / (self.host_total_s / cores)

    def error_detail(self) -> str:
        statuses: Counter[str] = Counter()
        for r in self.results:
            for s, n in r.statuses.items():
                if not 200 <= s < 300:
                    statuses[f"HTTP {s}"] += n
            statuses.update(r.errors)
            if r.unsent:
                statuses["never sent"] += r.unsent
        samples = [s for r in self.results for s in r.samples][:3]
        text = ", ".join(f"{k}: {v}" for k, v in statuses.items())
        return text + "".join(f"\n      e.g. {s[:200]}" for s in samples)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.valkey: EmbeddedServer | None = None
        self.servers: list[Gunicorn] = []
        self.tmp: Path | None = None
        self.warmup_errors: list[str] = []

    def progress(self, text: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def measure(self, name: str, server: Gunicorn, fn: Callable[[], list[load.Result]]) -> Row:
        assert self.valkey is not None and self.valkey.pid is not None
        pids = server.pids()
        app0, valkey0, host0 = cpu_split(pids), cpu_seconds([self.valkey.pid]), HostCpu.read()
        results = fn()
        busy, steal, total = HostCpu.read().since(host0)
        app1 = cpu_split(pids)
        return Row(
            name=name,
            config=server.workers.label,
            results=results,
            app_cpu_s=sum(app1) - sum(app0),
            app_sys_s=app1[1] - app0[1],
            valkey_cpu_s=cpu_seconds([self.valkey.pid]) - valkey0,
            host_busy_s=busy,
            host_steal_s=steal,
            host_total_s=total,
        )

    def run(self) -> int:
        args = self.args
        started = time.monotonic()
        parent = str(args.data_dir) if args.data_dir else None
        self.tmp = Path(tempfile.mkdtemp(prefix="coordination-bench-", dir=parent))
        try:
            return self._run(started)
        finally:
            self.progress("stopping gunicorn and valkey")
            for server in self.servers:
                server.stop()
            if self.valkey is not None:
                self.valkey.stop()
            if args.keep:
                print(f"\ndata and logs kept in {self.tmp}")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def _run(self, started: float) -> int:
        args = self.args
        assert self.tmp is not None
        if args.only not in ("read-side", "cluster"):
            self._write_side()
            # The write side's servers go before the read side starts servers of its own.
            for server in self.servers:
                server.stop()
            if self.valkey is not None:
                self.valkey.stop()
        if args.only in (None, "read-side"):
            if args.only == "read-side":
                self._header()
            report = readside.ReadSide(args, self.tmp, self.progress).run()
            targets = readside.print_report(report, args)
            print("\nTargets (read side)")
            for text, ok in targets:
                print(f"  {text}  {'PASS' if ok else 'MISS'}")
        if args.only in (None, "peer"):
            if args.only == "peer":
                self._header()
            targets = peer.print_report(peer.run(args, self.tmp, self.progress), args)
            print("\nTargets (peer)")
            for text, ok in targets:
                print(f"  {text}  {'PASS' if ok else 'MISS'}")
        if args.only in (None, "cluster"):
            if args.only == "cluster":
                self._header()
            print("\nCluster (3 primaries; every node on appendfsync always)")
            targets = cluster.print_report(cluster.run(args, self.tmp, self.progress))
            print("\nTargets (cluster)")
            for text, ok in targets:
                print(f"  {text}  {'PASS' if ok else 'MISS'}")
        print(f"\ntotal bench time {time.monotonic() - started:.0f} s")
        return 0

    def _write_side(self) -> None:
        args = self.args
        assert self.tmp is not None
        self.progress(f"starting valkey (appendfsync {args.appendfsync}) in {self.tmp}")
        self.valkey = EmbeddedServer(self.tmp / "valkey", appendfsync=args.appendfsync).start()
        redis = Redis.from_url(self.valkey.url)
        secret, _ = TokenStore(redis).create(Role.DISPATCHER, UNIT, "bench-dispatcher")
        os.environ["REDIS_URL"] = self.valkey.url  # for the in-process layers

        configs = [WorkerConfig(args.workers, "sync")]
        if not args.no_gthread:
            configs.append(WorkerConfig(args.workers, "gthread", args.threads))
        if not args.no_shipped:
            configs.append(WorkerConfig(args.workers, "gevent", shipped=True))
        env = {"REDIS_URL": self.valkey.url}
        pairs: list[tuple[WorkerConfig, Gunicorn, Gunicorn]] = []
        for config in configs:
            trivial = Gunicorn(TRIVIAL_APP, config, env, self.tmp, "/health")
            api = Gunicorn(args.api_app, config, env, self.tmp, "/openapi.json")
            self.servers += [trivial, api]
            pairs.append((config, trivial, api))
        self.progress(f"starting {len(self.servers)} gunicorn masters, {args.workers} workers each")
        for server in self.servers:
            server.launch()
        for server in self.servers:
            server.wait_ready()

        auth = (("Authorization", f"Bearer {secret}"),)
        targets: dict[str, load.Target] = {}
        for server in self.servers:
            if server.app == args.api_app:
                target = load.Target(server.host, server.port, "/incidents", BODY, auth)
            else:
                target = load.Target(server.host, server.port, "/events", BODY)
            _check(target)
            targets[f"{server.app}/{server.workers.label}"] = target

        # Closed loop: the trivial app and the API alternate in short rounds, so that the
        # noise of other tenants (which drifts over seconds) hits both alike.
        closed: list[Row] = []
        slice_s = args.seconds / args.rounds
        for config, trivial, api in pairs:
            endpoints = (("trivial POST /events", trivial), ("POST /incidents", api))
            for name, server in endpoints:
                target = targets[f"{server.app}/{config.label}"]
                warm = load.run_closed(target, args.procs, args.conns, args.warmup)
                if sum(r.error_count for r in warm):
                    row = Row(name, config.label, warm, 0, 0, 0, 0, 0, 1)
                    self.warmup_errors.append(
                        f"{name} [{config.label}] warm-up: {row.errors} - {row.error_detail()}"
                    )
            self.progress(
                f"closed loop [{config.label}]: trivial and API alternating, "
                f"{args.rounds} rounds of {slice_s:g} s each"
            )
            rounds: dict[str, list[Row]] = {name: [] for name, _ in endpoints}
            for _ in range(args.rounds):
                for name, server in endpoints:
                    target = targets[f"{server.app}/{config.label}"]
                    rounds[name].append(
                        self.measure(
                            name,
                            server,
                            lambda t=target: load.run_closed(t, args.procs, args.conns, slice_s),
                        )
                    )
            closed += [Row.merge(rows) for rows in rounds.values()]

        opened: list[Row] = []
        for config, _trivial, api in pairs:
            target = targets[f"{api.app}/{config.label}"]
            self.progress(f"open loop POST /incidents [{config.label}]: {args.rate:g}/s")
            opened.append(
                self.measure(
                    "POST /incidents",
                    api,
                    lambda t=target: load.run_open(t, args.procs, args.rate, args.open_seconds),
                )
            )

        self.progress(f"raw pipelined XADD x{args.xadds}")
        xadd = xadd_ceiling(redis, args.xadds, args.pipeline)
        layers = [] if args.no_layers else self.layers(redis, secret, args.layer_seconds)

        profile = None
        if args.profile:
            config, _trivial, api = pairs[-1]  # the shipped workers, unless --no-shipped
            profile = self.profile(api, targets[f"{api.app}/{config.label}"])

        info = redis.info("server")
        fsync = redis.config_get("appendfsync").get("appendfsync")
        appendonly = redis.config_get("appendonly").get("appendonly")
        aof_mb = _dir_size(self.tmp / "valkey") / 1e6
        redis.close()
        self.report(closed, opened, xadd, layers, profile, info, fsync, appendonly, aof_mb)

    # --- in-process breakdown --------------------------------------------------------------

    def layers(self, redis: Redis, secret: str, seconds: float) -> list[tuple[str, Any]]:
        """Sequential, one client, in this process: what each layer of a request costs."""
        from bench.trivial_app import create_app as trivial_app
        from coordination.api.app import create_app
        from coordination.config import Config
        from schemas.incidents import ReportIncidentSchema

        self.progress("in-process breakdown (one client, sequential)")
        assert self.valkey is not None
        app = create_app(Config(redis_url=self.valkey.url))
        services = app.extensions["coordination"]
        token = services.tokens.lookup(secret)
        schema = ReportIncidentSchema()
        fields = schema.load(json.loads(BODY))
        api_client = app.test_client()
        trivial_client = trivial_app().test_client()
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

        def api_post() -> None:
            response = api_client.post("/incidents", data=BODY, headers=headers)
            if response.status_code != 201:
                raise RuntimeError(f"in-process POST /incidents: {response.status_code}")

        def trivial_post() -> None:
            response = trivial_client.post("/events", data=BODY, content_type="application/json")
            if response.status_code != 201:
                raise RuntimeError(f"in-process POST /events: {response.status_code}")

        steps: list[tuple[str, Callable[[], Any]]] = [
            ("redis PING (loopback round trip)", redis.ping),
            ("redis XADD 1 entry (fsync)", lambda: redis.xadd("bench:layers", {"e": BODY})),
            ("token lookup (GET, uncached)", lambda: services.tokens.lookup(secret, fresh=True)),
            ("token lookup (cached per process)", lambda: services.tokens.lookup(secret)),
            ("ReportIncidentSchema.load (CPU)", lambda: schema.load(json.loads(BODY))),
            ("IncidentHandler.report (EVALSHA, fsync)", lambda: services.incidents.report(
                token.actor, fields)),
            ("Flask test client POST /events (trivial)", trivial_post),
            ("Flask test client POST /incidents", api_post),
        ]  # fmt: skip
        out = []
        for name, fn in steps:
            for _ in range(20):  # warm
                fn()
            out.append((name, timed(fn, seconds, max_count=200_000)))
        return out

    # --- profile ---------------------------------------------------------------------------

    def profile(self, api: Gunicorn, target: load.Target) -> str:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            return "py-spy not found (pip install py-spy into this venv); no profile"
        seconds = self.args.seconds
        assert self.tmp is not None
        self.progress(f"profile: POST /incidents [{api.workers.label}] with py-spy, {seconds:g} s")
        spies = []
        outputs = []
        for pid in api.worker_pids():
            out = self.tmp / f"py-spy-{pid}.txt"
            outputs.append(out)
            spies.append(
                subprocess.Popen(
                    [spy, "record", "--pid", str(pid), "--duration", str(math.ceil(seconds)),
                     "--rate", "250", "--format", "raw", "--nonblocking", "--gil",
                     "--output", str(out)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )  # fmt: skip
        errors = []
        try:
            time.sleep(0.5)
            load.run_closed(target, self.args.procs, self.args.conns, seconds)
        finally:
            for spy_proc in spies:
                try:
                    _, err = spy_proc.communicate(timeout=seconds + 30)
                    if spy_proc.returncode:
                        errors.append(err.decode(errors="replace").strip()[-300:])
                except subprocess.TimeoutExpired:
                    spy_proc.kill()
                    spy_proc.communicate()
        stacks: Counter[str] = Counter()
        for out in outputs:
            if out.exists():
                for line in out.read_text(errors="replace").splitlines():
                    stack, _, count = line.rpartition(" ")
                    if stack and count.isdigit():
                        stacks[stack] += int(count)
        if not stacks:
            return "py-spy produced no samples: " + "; ".join(errors)
        return summarize_profile(stacks)

    # --- output ----------------------------------------------------------------------------

    def _header(self) -> None:
        print()
        print("=" * 100)
        print(
            f"coordination bench  {time.strftime('%Y-%m-%d %H:%M:%S')}  "
            f"cpus={os.cpu_count()}  python {sys.version.split()[0]}"
        )

    def report(
        self,
        closed: list[Row],
        opened: list[Row],
        xadd: tuple[int, float],
        layers: list[tuple[str, Any]],
        profile: str | None,
        info: dict[str, Any],
        fsync: str | None,
        appendonly: str | None,
        aof_mb: float,
    ) -> None:
        args = self.args
        assert self.tmp is not None and self.valkey is not None
        version = info.get("valkey_version") or info.get("redis_version")
        self._header()
        print(
            f"server: valkey {version} {self.valkey.url}  appendonly={appendonly}  "
            f"appendfsync={fsync} (read back with CONFIG GET)  data on {_fs_type(self.tmp)}  "
            f"AOF+data at end {aof_mb:.1f} MB"
        )
        print(
            f"load generator: {args.procs} separate processes (multiprocessing, fork), raw HTTP/1.1"
            f" on non-blocking sockets; they share the same {os.cpu_count()} cores as gunicorn and "
            "valkey, and their CPU is shown per request below"
        )
        print(
            "gunicorn sync workers close the connection after every response (Connection: close), "
            "so each request there opens a new TCP connection; gthread workers keep them alive"
        )
        print(f"API app: {args.api_app}   body ({len(BODY)} bytes): {BODY.decode()}")

        print(
            f"\nClosed loop: {args.conns} connections, {args.seconds:g} s per row after "
            f"{args.warmup:g} s warm-up; the two rows of a gunicorn config ran alternating in "
            f"{args.rounds} rounds of {args.seconds / args.rounds:g} s"
        )
        print(_table(closed))
        print(
            f"\nOpen loop: {args.rate:g} requests/s for {args.open_seconds:g} s on a fixed "
            "schedule; latency from the scheduled send time (no coordinated omission)"
        )
        print(_table(opened, open_loop=True))
        for row in opened:
            lag = sorted(x for r in row.results for x in r.send_lag_ms)
            queued = sum(r.queued for r in row.results)
            print(
                f"  [{row.config}] achieved {row.responses / args.open_seconds:.1f}/s of "
                f"{args.rate:g}/s; generator send lag p99 {percentile(lag, 0.99):.2f} ms, "
                f"max {percentile(lag, 1.0):.2f} ms; sends delayed >1 ms: {queued}"
            )

        count, elapsed = xadd
        print(
            f"\nRaw pipelined XADD (redis-py + hiredis, one client, pipelines of {args.pipeline}, "
            f"appendfsync={fsync}): {count} events in {elapsed:.2f} s = "
            f"{count / elapsed:,.0f} events/s (ceiling reference)"
        )

        if layers:
            print("\nIn-process breakdown (this process, one client, sequential; no HTTP/gunicorn)")
            print(
                f"  {'step':44} {'ops':>7} {'ops/s':>9} {'mean ms':>8} {'p50 ms':>7} {'p99 ms':>7}"
            )
            for name, (n, total, lat) in layers:
                print(
                    f"  {name:44} {n:7d} {n / total:9.0f} {1000 * total / n:8.3f} "
                    f"{percentile(lat, 0.5):7.3f} {percentile(lat, 0.99):7.3f}"
                )

        if profile:
            print(f"\nProfile of the API workers under closed-loop load (py-spy)\n{profile}")

        print("\nTargets")
        flagged = [r for r in closed + opened if r.errors]
        by_config: dict[str, dict[str, Row]] = {}
        for row in closed:
            by_config.setdefault(row.config, {})[row.name] = row
        for config, rows in by_config.items():
            api, trivial = rows.get("POST /incidents"), rows.get("trivial POST /events")
            if api is None or trivial is None or trivial.rps == 0:
                continue
            ratio = api.rps / trivial.rps
            verdict = "PASS" if ratio >= RATIO_TARGET else "MISS"
            per_round = sorted(
                a.rps / t.rps for a, t in zip(api.rounds, trivial.rounds, strict=True) if t.rps
            )
            spread = ""
            if len(per_round) > 1:
                spread = (
                    f"; by round {' '.join(f'{x:.2f}' for x in per_round)} "
                    f"(median {statistics.median(per_round):.2f})"
                )
            print(
                f"  [{config:19}] POST /incidents / trivial req/s = {api.rps:.0f} / "
                f"{trivial.rps:.0f} = {ratio:.2f}   (target >= {RATIO_TARGET})  {verdict}{spread}"
            )
        for row in opened:
            p99 = row.p(0.99)
            complete = row.responses >= 0.95 * args.rate * args.open_seconds
            verdict = "PASS" if p99 <= P99_TARGET_MS and complete and not row.errors else "MISS"
            print(
                f"  [{row.config:19}] open loop {args.rate:g}/s p99 = {p99:.1f} ms   "
                f"(target <= {P99_TARGET_MS:g} ms)  {verdict}"
            )
        if flagged or self.warmup_errors:
            print("\n  FLAGGED: runs with errors (non-2xx responses or transport errors):")
            for row in flagged:
                print(f"    {row.name} [{row.config}]: {row.errors} - {row.error_detail()}")
            for text in self.warmup_errors:
                print(f"    {text}")
        else:
            print("  no errors in any run (every response 2xx)")


def _table(rows: list[Row], open_loop: bool = False) -> str:
    head = (
        f"  {'endpoint':21} {'gunicorn':19} {'resp':>6} {'2xx/s':>7} {'p50':>6} {'p90':>6} "
        f"{'p99':>6} {'max':>6} {'err':>4} {'conns':>6} | cpu ms/req: {'app':>5} {'(sys)':>5} "
        f"{'valkey':>6} {'loadgen':>7} | host: busy other steal"
    )
    lines = [head, "  " + "-" * (len(head) - 2)]
    for r in rows:
        conns = sum(x.connects for x in r.results)
        steal = 100 * r.host_steal_s / r.host_total_s
        lines.append(
            f"  {r.name:21} {r.config:19} {r.responses:6d} {r.rps:7.0f} {r.p(0.5):6.1f} "
            f"{r.p(0.9):6.1f} {r.p(0.99):6.1f} {r.p(1.0):6.1f} {r.errors:4d} {conns:6d} |"
            f"{'':12}{r.per_request_ms(r.app_cpu_s):5.2f} {r.per_request_ms(r.app_sys_s):5.2f} "
            f"{r.per_request_ms(r.valkey_cpu_s):6.2f} {r.per_request_ms(r.gen_cpu_s):7.2f} | "
            f"{100 * r.busy:10.0f}% {r.others:5.2f} {steal:4.0f}%"
            + ("  FLAGGED" if r.errors else "")
        )
    lines.append(
        "  (latencies in ms; app = the gunicorn master and workers, (sys) = their kernel part;"
        " host busy and steal in % of all cores during the row; other = cores busy outside the"
        " bench's own processes: noise from other tenants, kernel interrupt work)"
    )
    for r in rows:
        retried = sum(x.retried for x in r.results)
        if retried:
            lines.append(
                f"  {r.name} [{r.config}]: {retried} requests re-sent on a fresh connection after "
                "the server closed an idle keep-alive one before answering (not errors)"
            )
    return "\n".join(lines)


def _check(target: load.Target) -> None:
    """One request before any load: the endpoint must answer 201, else the bench stops here."""
    import http.client

    conn = http.client.HTTPConnection(target.host, target.port, timeout=10)
    try:
        conn.request("POST", target.path, body=target.body, headers={
            "Content-Type": "application/json", **dict(target.headers)})  # fmt: skip
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 201:
        raise RuntimeError(f"POST {target.path} answered {response.status}: {body[:500]!r}")


def timed(fn: Callable[[], Any], seconds: float, max_count: int) -> tuple[int, float, list[float]]:
    """Call fn repeatedly for up to ``seconds`` (and ``max_count`` calls); per-call ms, sorted."""
    latencies = []
    start = time.perf_counter()
    stop = start + seconds
    now = start
    while now < stop and len(latencies) < max_count:
        fn()
        after = time.perf_counter()
        latencies.append((after - now) * 1000.0)
        now = after
    return len(latencies), now - start, sorted(latencies)


def xadd_ceiling(redis: Redis, count: int, batch: int, limit: float = 30.0) -> tuple[int, float]:
    """``count`` XADDs in pipelines of ``batch`` (stopping early after ``limit`` seconds)."""
    sent = 0
    start = time.perf_counter()
    with redis.pipeline(transaction=False) as pipe:
        while sent < count and time.perf_counter() - start < limit:
            n = min(batch, count - sent)
            for _ in range(n):
                pipe.xadd("bench:ceiling", {"e": BODY})
            pipe.execute()
            sent += n
    return sent, time.perf_counter() - start


def summarize_profile(
    stacks: Counter[str],
    top: int = 18,
    what: str = "samples of worker threads holding the GIL (running Python, not waiting)",
) -> str:
    """Self and inclusive time of the hottest frames in py-spy's collapsed stacks."""
    total = sum(stacks.values())
    own: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, n in stacks.items():
        frames = [_short(f) for f in stack.split(";")]
        frames = [f for f in frames if f]
        if not frames:
            continue
        own[frames[-1]] += n
        by_package[_package(frames[-1])] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [
        f"  {total} {what}",
        "  self time by package:",
        "    " + ", ".join(f"{p} {100 * n / total:.0f}%" for p, n in by_package.most_common()),
        f"  self time by function, top {top}:",
    ]
    lines += [f"    {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines.append(f"  inclusive time of app and library frames, top {2 * top}:")
    mine = [(f, n) for f, n in inclusive.most_common() if any(f"({p}/" in f for p in PACKAGES)]
    lines += [f"    {100 * n / total:5.1f}%  {f}" for f, n in mine[: 2 * top]]
    return "\n".join(lines)


PACKAGES = ("coordination", "schemas", "flask_smorest", "webargs", "marshmallow", "redis")


def _package(frame: str) -> str:
    """The package (or stdlib module) of a shortened frame ``func (pkg/module.py)``."""
    path = frame.rpartition(" (")[2].rstrip(")")
    if path.startswith("<"):
        return "generated code"  # dataclass __init__ and the like
    head = path.split("/", 1)[0]
    return head.removesuffix(".py")


def _short(frame: str) -> str:
    """``func (path/to/module.py:12)`` -> ``func (package/module.py)``; idle frames dropped."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/lib/python3.11/", f"{REPO_ROOT}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})" if path else name


def _fs_type(path: Path) -> str:
    """The file system type of the mount holding ``path``."""
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return f"{kind} ({best})"


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    # SIGTERM takes the same way out as Ctrl-C, through the finally that stops every server.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return bench.run()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"bench aborted: {exc}", file=sys.stderr)
        return 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt

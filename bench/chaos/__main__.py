"""``python -m bench.chaos [--quick] [--only a,b,...] [--keep]``: see ``bench/chaos/__init__.py``.

Scenarios (each some rows of the table):

a. ``kill -9`` of the Redis server under write load, restarted on the same data each time;
b. SIGKILL of the projecting worker under mixed load; projections against a rebuild;
c. the claim race at 丽都: claim-next and resolve in a loop; then claims held ("hold");
d. open streams and slow-loris clients beside a dispatcher's reports;
e. the worker and the scheduler survive server restarts;
f. schemathesis over ``/openapi.json``.

Each scenario runs to its end whatever the one before found (a crash is a failed row); before
each, whatever of the stack has exited is started again (and said so). Exit status 1 if any
verdict failed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.chaos import claims, flood, openapi_fuzz, redis_kills, restarts, worker_kills
from bench.chaos.common import Sizes
from bench.chaos.report import Table
from bench.chaos.stack import WORKER_KINDS, Stack

SCENARIOS = "abcdef"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--only", default=SCENARIOS, help="scenarios to run, e.g. 'a,c' (all)")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs, data)")
    parser.add_argument("--workdir", type=Path, help="where the run's folder goes (a temp dir)")
    parser.add_argument(
        "--worker",
        choices=WORKER_KINDS,
        default="coordination",
        help="the stack's worker: 'coordination worker' as make run and compose (default), "
        "or the plain 'rq worker' command line",
    )
    args = parser.parse_args(argv)
    wanted = [s for s in SCENARIOS if s in args.only]
    sizes = Sizes.of(args.quick)
    root = Path(tempfile.mkdtemp(prefix="chaos-", dir=args.workdir))
    table = Table()
    stack = Stack(root, args.worker)
    mode = "quick" if args.quick else "full"
    print(
        f"chaos ({mode}, {args.worker} worker): scenarios {''.join(wanted)}; run folder {root}",
        flush=True,
    )
    started = time.monotonic()
    runs: dict[str, Callable[[], None]] = {
        "a": lambda: redis_kills.run(stack, table, sizes.redis_kills, sizes.write_clients),
        "b": lambda: worker_kills.run(stack, table, sizes.worker_kills),
        "c": lambda: (
            claims.run(stack, table, sizes.claim_orders, sizes.claim_clients, resolve=True),
            claims.run(stack, table, sizes.hold_orders, sizes.claim_clients, resolve=False),
        ),
        "d": lambda: flood.run(
            stack, table, sizes.streams, sizes.slow_clients, sizes.flood_seconds
        ),
        "e": lambda: restarts.run(stack, table, sizes.restarts),
        "f": lambda: openapi_fuzz.run(stack, table, sizes.fuzz_requests),
    }
    try:
        stack.start()
        for scenario in wanted:
            print(f"\n--- scenario {scenario} ---", flush=True)
            begun = time.monotonic()
            try:
                restarted = stack.ensure_running()
                if restarted:
                    table.add(scenario, "restarted before it (had exited)", ", ".join(restarted))
                runs[scenario]()
            except Exception as exc:
                traceback.print_exc()
                table.add(scenario, "scenario crashed", f"{type(exc).__name__}: {exc}", ok=False)
            print(f"--- scenario {scenario}: {time.monotonic() - begun:.0f} s", flush=True)
            if scenario == "d":
                stack.restart_api()  # streams the flood left would hold threads a while yet
    except Exception as exc:
        traceback.print_exc()
        table.add("setup", "stack did not start", f"{type(exc).__name__}: {exc}", ok=False)
    finally:
        stack.stop()
    print(f"\nchaos ({mode}) in {time.monotonic() - started:.0f} s\n")
    print(table.render())
    failed = table.failed
    print(f"\n{len(failed)} of {sum(1 for r in table.rows if r.verdict != '-')} verdicts failed")
    if failed or args.keep:
        print(f"logs and data kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

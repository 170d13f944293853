"""The naive projector the bench compares the real one with: one RQ job per event.

``apply_one(partition, position)`` is what a design without catch-up batches would run for each
append: read that one event from the log and apply it with ``Projector.apply_batch`` as a batch
of one, moving the checkpoint from ``position - 1`` to ``position``. It builds its services the
way ``workers.jobs`` does (once per process; under the forking worker that is once per job), so
it pays the same per-job costs as the real catch-up job. Jobs must run in log order (one worker,
one queue, FIFO): a job whose predecessor has not been applied fails instead of skipping.
"""

from __future__ import annotations

from coordination.projections.projector import Outcome
from coordination.store.keys import current_generation
from workers.jobs import services


def apply_one(partition: str, position: int) -> str:
    built = services()
    gen = current_generation(built.redis, partition)
    batch = built.store.read_partition(partition, after=position - 1, count=1)
    if not batch or batch[0].position != position:
        raise LookupError(f"no event at position {position} of {partition}")
    outcome = built.projector.apply_batch(partition, gen, position - 1, batch)
    if outcome is not Outcome.APPLIED:
        raise RuntimeError(f"event {position} of {partition} not applied: {outcome.value}")
    return outcome.value

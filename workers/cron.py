"""The schedule for ``rq cron workers.cron``: the periodic tick."""

from __future__ import annotations

from rq import cron

from coordination.config import Config
from workers.jobs import tick

_config = Config.from_env()
cron.register(tick, _config.queue, interval=_config.tick_seconds, result_ttl=60)

"""Configuration read from environment variables, with defaults for a local run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_UNITS_FILE = Path(__file__).parent / "data" / "gangwen.json"
DEFAULT_CALENDAR_FILE = Path(__file__).parent / "data" / "calendar.toml"
LOG_FORMATS = ("json", "text")  # COORDINATION_LOG_FORMAT; unset: text on a terminal, else JSON
LOG_LEVELS = ("debug", "info", "warning", "error")  # COORDINATION_LOG_LEVEL


@dataclass(frozen=True)
class Config:
    redis_url: str = "redis://127.0.0.1:6379/0"
    # The store on a Redis/Valkey Cluster: its seed nodes, "host:port,host:port" (or redis://
    # URLs). RQ then needs a standalone server of its own: ``rq_redis_url``.
    redis_cluster_url: str = ""
    rq_redis_url: str = ""  # RQ's queues; the store's server when unset (and not a cluster)
    wait_replicas: int = 0  # acknowledge an append once this many replicas fsynced it too
    wait_timeout_ms: int = 1000  # ... or answer 503 (it may have landed) after this long
    redis_timeout_seconds: float = 0.5
    redis_connect_timeout_seconds: float = 0.25
    units_file: Path = DEFAULT_UNITS_FILE
    timezone: str = "Asia/Shanghai"
    idempotency_ttl_seconds: int = 24 * 3600
    max_content_length: int = 64 * 1024
    host: str = "127.0.0.1"
    port: int = 8000
    queue: str = "coordination"
    data_dir: Path = Path("var")
    lease_minutes: float = 30.0
    night_lease_minutes: float = 10.0
    read_wait_seconds: float = 2.0
    read_waiting_max: int = 32
    projector_batch: int = 1000
    projector_lock_seconds: float = 1.5
    tick_seconds: int = 5
    calendar_file: Path = DEFAULT_CALENDAR_FILE
    sign_working_days: int = 1
    resolve_working_days: int = 5
    night_claim_minutes: float = 15.0
    night_resolve_minutes: float = 120.0
    log_format: str = ""  # "json", "text", or "" to choose by whether the log is a terminal
    log_level: str = "warning"  # of the worker and the scheduler
    archive_dir: Path = Path("var/archive")  # must exist: see README "Archive"
    archive_after_days: int = 90  # an order closed longer ago than this is archived
    archive_on_tick: bool = False  # the periodic tick archives too, at most once an hour

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("COORDINATION_DATA_DIR", str(cls.data_dir)))
        return cls(
            redis_url=env.get("REDIS_URL") or running_server_url(data_dir) or cls.redis_url,
            redis_cluster_url=env.get("REDIS_CLUSTER_URL", "").strip(),
            rq_redis_url=env.get("RQ_REDIS_URL", "").strip(),
            wait_replicas=int(env.get("COORDINATION_WAIT_REPLICAS", cls.wait_replicas)),
            wait_timeout_ms=int(env.get("COORDINATION_WAIT_TIMEOUT_MS", cls.wait_timeout_ms)),
            redis_timeout_seconds=float(
                env.get("COORDINATION_REDIS_TIMEOUT_SECONDS", cls.redis_timeout_seconds)
            ),
            redis_connect_timeout_seconds=float(
                env.get(
                    "COORDINATION_REDIS_CONNECT_TIMEOUT_SECONDS", cls.redis_connect_timeout_seconds
                )
            ),
            units_file=Path(env.get("COORDINATION_UNITS_FILE", str(DEFAULT_UNITS_FILE))),
            timezone=env.get("COORDINATION_TIMEZONE", cls.timezone),
            idempotency_ttl_seconds=int(
                env.get("COORDINATION_IDEMPOTENCY_TTL", cls.idempotency_ttl_seconds)
            ),
            host=env.get("COORDINATION_HOST", cls.host),
            port=int(env.get("COORDINATION_PORT", cls.port)),
            queue=env.get("COORDINATION_QUEUE", cls.queue),
            data_dir=data_dir,
            lease_minutes=float(env.get("COORDINATION_LEASE_MINUTES", cls.lease_minutes)),
            night_lease_minutes=float(
                env.get("COORDINATION_NIGHT_LEASE_MINUTES", cls.night_lease_minutes)
            ),
            read_wait_seconds=float(
                env.get("COORDINATION_READ_WAIT_SECONDS", cls.read_wait_seconds)
            ),
            read_waiting_max=int(env.get("COORDINATION_READ_WAITING_MAX", cls.read_waiting_max)),
            projector_batch=int(env.get("COORDINATION_PROJECTOR_BATCH", cls.projector_batch)),
            projector_lock_seconds=float(
                env.get("COORDINATION_PROJECTOR_LOCK_SECONDS", cls.projector_lock_seconds)
            ),
            tick_seconds=int(env.get("COORDINATION_TICK_SECONDS", cls.tick_seconds)),
            calendar_file=Path(env.get("COORDINATION_CALENDAR_FILE", str(DEFAULT_CALENDAR_FILE))),
            sign_working_days=int(env.get("COORDINATION_SIGN_WORKING_DAYS", cls.sign_working_days)),
            resolve_working_days=int(
                env.get("COORDINATION_RESOLVE_WORKING_DAYS", cls.resolve_working_days)
            ),
            night_claim_minutes=float(
                env.get("COORDINATION_NIGHT_CLAIM_MINUTES", cls.night_claim_minutes)
            ),
            night_resolve_minutes=float(
                env.get("COORDINATION_NIGHT_RESOLVE_MINUTES", cls.night_resolve_minutes)
            ),
            log_format=_choice(env, "COORDINATION_LOG_FORMAT", LOG_FORMATS, cls.log_format),
            log_level=_choice(env, "COORDINATION_LOG_LEVEL", LOG_LEVELS, cls.log_level),
            archive_dir=Path(env.get("COORDINATION_ARCHIVE_DIR") or data_dir / "archive"),
            archive_after_days=int(
                env.get("COORDINATION_ARCHIVE_AFTER_DAYS", cls.archive_after_days)
            ),
            archive_on_tick=_choice(env, "COORDINATION_ARCHIVE_ON_TICK", ("0", "1"), "0") == "1",
        )


def rq_url(config: Config) -> str:
    """Where RQ's queues are: ``RQ_REDIS_URL``, else the store's server (not a cluster: RQ
    cannot run on one, rq/rq#1942)."""
    if config.rq_redis_url:
        return config.rq_redis_url
    if config.redis_cluster_url:
        raise ValueError(
            "RQ_REDIS_URL must name a standalone server when REDIS_CLUSTER_URL is set: RQ does "
            "not run on a cluster (rq/rq#1942, CROSSSLOT)"
        )
    return config.redis_url


def _choice(env: dict[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip().lower()
    if value and value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {env[name]!r}")
    return value or default


def running_server_url(data_dir: Path) -> str | None:
    """The URL of the embedded server that ``make run`` started on this data folder, if any."""
    path = data_dir / "redis.url"
    return path.read_text().strip() if path.exists() else None

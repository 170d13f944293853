"""The ``coordination`` command: tokens, and the local run behind ``make run``."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from coordination.bootstrap import build_services
from coordination.config import Config
from coordination.domain.access import Actor, Role
from coordination.domain.units import Level
from coordination.store.connection import ConfigError
from coordination.store.segments import ArchiveError
from coordination.store.tokens import Token


class _Commands(click.Group):
    """The command group: settings that name the wrong kind of server are an error message
    naming the setting, not a stack trace."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Commands)
def main() -> None:
    """Coordination of incident response for a 12345 hotline."""


@main.group()
def tokens() -> None:
    """Create, list and revoke bearer tokens."""


@tokens.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--unit", required=True, help="Unit id, e.g. gangwen/chenqiao.")
@click.option(
    "--name",
    required=True,
    help="Who holds it, recorded as the actor of events; for a field token, the staff id.",
)
def create_token(role: str, unit: str, name: str) -> None:
    """Create a token and print it once; only its hash is stored."""
    services = build_services(Config.from_env())
    if unit not in services.jurisdiction:
        raise click.BadParameter(f"unknown unit {unit!r}", param_hint="--unit")
    if role == Role.OPEN311.value and services.jurisdiction.get(unit).level is not Level.DISTRICT:
        # An Open311 client files orders anywhere in its district (jurisdiction_id = district).
        raise click.BadParameter(
            f"an open311 token belongs to a district, and {unit} is a "
            f"{services.jurisdiction.get(unit).level.value}; give the district's id "
            f"({services.jurisdiction.district_of(unit)})",
            param_hint="--unit",
        )
    level = services.jurisdiction.get(unit).level
    if (role == Role.CITY.value) != (level is Level.CITY) and role != Role.ADMIN.value:
        # A city holds no orders, queues or books: only its platform's and admins' tokens sit
        # there, and the city's platform sits nowhere else.
        raise click.BadParameter(
            f"a city token belongs to a city, and {unit} is a {level.value}"
            if role == Role.CITY.value
            else f"{unit} is a city: a {role} token belongs to a unit of one of its districts "
            f"({', '.join(services.jurisdiction.districts(unit))})",
            param_hint="--unit",
        )
    staff_id = None
    if role == Role.FIELD.value:
        # Field tokens belong to a registered staff member, and follow them: claims record
        # who, and deactivating or moving the member revokes or moves the token.
        member = services.staff.member_of(Actor(name, Role.FIELD, unit))
        if member is None or not member.active or member.unit != unit:
            raise click.BadParameter(
                f"{name!r} is not an active staff member of {unit}; register them first "
                "(POST /staff) and give their staff id as --name",
                param_hint="--name",
            )
        staff_id = member.id
    secret, token = services.tokens.create(Role(role), unit, name, staff_id)
    click.echo(_row(token), err=True)
    click.echo(secret)


@tokens.command("list")
def list_tokens() -> None:
    """List tokens (never their secrets): id, role, unit, name and a field token's staff id."""
    for token in build_services(Config.from_env()).tokens.list():
        click.echo(_row(token))


def _row(token: Token) -> str:
    return "\t".join((token.id, token.role.value, token.unit, token.name, token.staff_id))


@tokens.command("revoke")
@click.argument("token_id")
def revoke_token(token_id: str) -> None:
    """Revoke a token by its id."""
    if not build_services(Config.from_env()).tokens.revoke(token_id):
        raise click.ClickException(f"no token {token_id}")
    click.echo(f"revoked {token_id}")


@main.group("log")
def event_log() -> None:
    """Look after the event log itself."""


@event_log.command("migrate")
def log_migrate() -> None:
    """Keep each record once: the stream lists written before this version hold the records
    themselves, and are turned into lists of log positions (each checked against the log).
    Idempotent; appends may go on meanwhile."""
    services = build_services(Config.from_env())
    for partition in services.partitions:
        lists, replaced = services.store.migrate(partition)
        click.echo(f"{partition}\tstreams={lists}\treplaced={replaced}")


@main.command()
@click.option("--district", help="One district; all of them by default.")
@click.option("--days", type=click.IntRange(min=0), help="Closed more than this many days ago "
              "(default COORDINATION_ARCHIVE_AFTER_DAYS, 90).")  # fmt: skip
@click.option("--verify", is_flag=True, help="Check every segment against its manifest.")
def archive(district: str | None, days: int | None, verify: bool) -> None:
    """Move the history of orders closed long ago out of Redis into segment files under
    COORDINATION_ARCHIVE_DIR (default var/archive), finishing first any run cut short."""
    config = Config.from_env()
    if days is not None:
        config = dataclasses.replace(config, archive_after_days=days)
    services = build_services(config)
    for partition in [district] if district else services.partitions:
        try:
            if verify:
                found = services.archiver.segments.manifests(partition)
                for manifest in found:
                    services.archiver.segments.verify(manifest)
                events = sum(m.events for m in found)
                click.echo(f"{partition}	segments={len(found)}	events={events}	verified")
                continue
            done = services.archive(partition)
        except ArchiveError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(
            f"{partition}	segments={','.join(done.segments) or '-'}	streams={done.streams}"
            f"	events={done.events}	kept_for_projections={done.later}"
        )


@main.group()
def projections() -> None:
    """Inspect and rebuild the read models."""


@projections.command("lag")
def projection_lag() -> None:
    """Head position, checkpoint and lag of each partition."""
    services = build_services(Config.from_env())
    for partition in services.partitions:
        lag = services.projector.lag(partition)
        click.echo(f"{partition}\thead={lag.head}\tcheckpoint={lag.checkpoint}\tlag={lag.lag}")


@projections.command("catch-up")
def projection_catch_up() -> None:
    """Apply every event not yet projected (what the workers do), here and now."""
    services = build_services(Config.from_env())
    for partition in services.partitions:
        click.echo(f"{partition}\tapplied={services.projector.catch_up(partition)}")


@projections.command("rebuild")
@click.option("--partition", help="One district; all of them by default.")
def projection_rebuild(partition: str | None) -> None:
    """Replay the log into fresh keys and swap them in; readers keep the old ones meanwhile."""
    services = build_services(Config.from_env())
    for name in [partition] if partition else services.partitions:
        generation = services.projector.rebuild(name)
        lag = services.projector.lag(name)
        click.echo(f"{name}\tgeneration={generation}\tcheckpoint={lag.checkpoint}")


@main.group()
def reports() -> None:
    """Write reports from the read models."""


@reports.command("daily")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--district", help="The district; the only one by default.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Default: stdout.")
def daily_report(day: Any, district: str | None, fmt: str, output: str | None) -> None:
    """The daily report (日报) of a district for a local date, as of the log's head now."""
    from zoneinfo import ZoneInfo

    from coordination.projections import reports as building
    from coordination.projections.reads import NotYetVisible

    services = build_services(Config.from_env())
    if district is None:
        if len(services.partitions) != 1:
            raise click.UsageError("name the district: --district")
        district = services.partitions[0]
    if district not in services.partitions:
        raise click.BadParameter(f"not a district: {district!r}", param_hint="--district")
    try:
        report = building.daily_report(
            services.reads,
            services.jurisdiction,
            district,
            day.date(),
            services.incidents.clock(),
            ZoneInfo(services.config.timezone),
            min_position=services.store.head(district),
        )
    except building.FutureDay as exc:
        raise click.BadParameter(str(exc), param_hint="--date") from exc
    except NotYetVisible as exc:
        raise click.ClickException(
            f"{exc}; is a worker running? (or: coordination projections catch-up)"
        ) from exc
    body = building.render_csv(report) if fmt == "csv" else building.render_json(report)
    if output is None:
        click.echo(body, nl=False)
    else:
        with open(output, "wb") as file:
            file.write(body)
        click.echo(f"wrote {output}", err=True)


@main.group()
def supplies() -> None:
    """The supplies ledgers, as the read models have them."""


@supplies.command("reconcile")
@click.option("--district", help="The district; the only one by default.")
@click.option("--unit", help="A unit of the district: its subtree only (default: all of it).")
@click.option("--json", "as_json", is_flag=True, help="Print the reconciliation as JSON.")
def supplies_reconcile(district: str | None, unit: str | None, as_json: bool) -> None:
    """The books of every unit and item, and their totals: donated + transferred in -
    transferred out - issued - written off against on hand + in transit. Names every
    difference; the exit status is 1 if the books do not balance."""
    import json

    from coordination.projections.reads import NotYetVisible
    from coordination.projections.supply_books import reconciliation_data, reconciliation_lines

    services = build_services(Config.from_env())
    jurisdiction = services.jurisdiction
    if district is None:
        if unit is not None and unit in jurisdiction:
            district = jurisdiction.district_of(unit)
        elif len(services.partitions) != 1:
            raise click.UsageError("name the district: --district")
        else:
            district = services.partitions[0]
    if district not in services.partitions:
        raise click.BadParameter(f"not a district: {district!r}", param_hint="--district")
    unit = unit or district
    if not jurisdiction.within(unit, district):
        raise click.BadParameter(f"not a unit of {district}: {unit!r}", param_hint="--unit")
    units = sorted(u for u in jurisdiction.units if jurisdiction.within(u, unit))
    try:
        books = services.reads.reconciliation(district, units, services.store.head(district))
    except NotYetVisible as exc:
        raise click.ClickException(
            f"{exc}; is a worker running? (or: coordination projections catch-up)"
        ) from exc
    if as_json:
        data = reconciliation_data(books, jurisdiction, unit)
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for line in reconciliation_lines(books, jurisdiction, unit):
            click.echo(line)
    if not books.balanced:
        raise SystemExit(1)


@main.command()
@click.option(
    "--day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="e.g. 2020-02-08; default today"
)
@click.option(
    "--until",
    type=click.DateTime(["%H:%M"]),
    default=None,
    help="Drive the day up to this local time (at most now, the default); the rest is left open.",
)
@click.option(
    "--isolated",
    is_flag=True,
    help="Seed into a server of its own, data in <data dir>/demo-<day>/ (a past day while "
    "`coordination dev` runs).",
)
@click.option("--seed", type=int, default=None, help="Random seed; the same seed, the same day.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def demo(day: Any, until: Any, isolated: bool, seed: int | None, as_json: bool) -> None:
    """Seed a realistic day of the Gangwen district (today by default) into the log, once."""
    import json

    from coordination.bootstrap import utcnow
    from coordination.devtools import demo as seeding

    config = Config.from_env()
    seed = seeding.DEFAULT_SEED if seed is None else seed
    when = until.time() if until else None
    try:
        if isolated:
            summary, config, checks = seeding.seed_isolated(
                config, day and day.date(), seed, until=when
            )
        else:
            summary = seeding.seed_day(config, day and day.date(), seed, until=when)
            checks = seeding.compare_with_reports(build_services(config), summary, utcnow())
    except seeding.DayNotEmpty as exc:
        raise click.ClickException(f"{exc}; not seeding it again") from exc
    except seeding.DemoRefused as exc:
        raise click.ClickException(str(exc)) from exc
    except seeding.SeedFailed as exc:
        for failure in exc.failures:
            click.echo(f"failed: {failure}", err=True)
        raise click.ClickException(str(exc)) from exc
    if as_json:
        data = {**summary.as_dict(), "reports": checks, "data_dir": str(config.data_dir)}
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for line in [*summary.lines(), *checks]:
        click.echo(line)
    if isolated:
        click.echo(
            f"its data is in {config.data_dir}/; serve it with: "
            f"COORDINATION_DATA_DIR={config.data_dir} COORDINATION_PORT=8001 coordination dev"
        )


VERBOSE = click.option(
    "--verbose", is_flag=True, help="Log at INFO (default: COORDINATION_LOG_LEVEL, or WARNING)."
)


@main.command()
@VERBOSE
def scheduler(verbose: bool) -> None:
    """Enqueue the periodic tick every COORDINATION_TICK_SECONDS (SIGTERM or Ctrl-C stops)."""
    import signal
    import threading

    from coordination.cli.scheduler import run

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run(Config.from_env(), stop, verbose=verbose)


@main.command()
@click.option("--burst", is_flag=True, help="Drain the queue once, then exit.")
@VERBOSE
def worker(burst: bool, verbose: bool) -> None:
    """Run the RQ worker of the projections and the tick; it rides out store outages."""
    from coordination.cli.worker import run

    run(Config.from_env(), burst=burst, verbose=verbose)


@main.command()
def dev() -> None:
    """Run everything locally: embedded server, API, worker, demo tokens (Ctrl-C stops)."""
    from coordination.devtools.devrun import run

    run(Config.from_env())

"""`ignis`: the operator's command line."""

import asyncio
import contextlib
import datetime as dt
import importlib.util
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import httpx
import typer
import uvloop

from ignis.cli.setup import in_patients_schema, migrate_all, seed_all, with_sessionmaker
from ignis.cli.supervisor import Child, Supervisor
from ignis.gateway import server as gateway_server
from ignis.gateway.settings import GatewaySettings
from ignis.kit.clock import utcnow
from ignis.kit.embedded import EmbeddedNats, EmbeddedPostgres, port_is_free
from ignis.kit.home import HomeInUse, HomeLock
from ignis.kit.logging import configure_logging
from ignis.kit.settings import Settings
from ignis.patients import retention
from ignis.practice.config import Practice, PracticeConfigError

if TYPE_CHECKING:  # the set-up commands import the ElevenLabs SDK only when they run
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from ignis.provision.agent import AgentTexts
    from ignis.provision.settings import ProvisionSettings

app = typer.Typer(
    help="Ignis: backend of an AI phone receptionist for a German medical practice.", no_args_is_help=True
)

PROCESSES = ("gateway", "patients", "scheduler", "notifier")


@app.command()
def up(
    records: Annotated[
        Literal["ignis", "fhir"] | None,
        typer.Option(
            help="Where patients and appointments are kept (IGNIS_RECORDS). `fhir` without IGNIS_FHIR_URL "
            "starts Medplum's in-memory FHIR engine of the tests for a local trial: lost when Ignis stops."
        ),
    ] = None,
) -> None:
    """Start the whole system: embedded NATS and Postgres unless configured, migrate, seed, run."""
    settings = GatewaySettings()
    configure_logging("supervisor", settings.log_level, json_lines=False)
    home = settings.home.resolve()
    try:
        lock = HomeLock(home)
    except HomeInUse as exc:
        where = f" (pid {exc.running.pid}, {exc.running.gateway})" if exc.running else ""
        typer.echo(
            f"Ignis is already running from {home}{where}: stop it first, or set another IGNIS_HOME.",
            err=True,
        )
        raise typer.Exit(1) from None
    if not port_is_free(settings.gateway_port, settings.gateway_host):
        lock.release()
        typer.echo(
            f"Port {settings.gateway_port} is in use: stop what runs there or set IGNIS_GATEWAY_PORT.",
            err=True,
        )
        raise typer.Exit(1)

    # Until supervision starts, SIGTERM unwinds like Ctrl-C, so a stop during start-up leaves nothing behind.
    signal.signal(signal.SIGTERM, _interrupt)
    nats = postgres = supervisor = None
    trial = contextlib.ExitStack()  # the in-memory FHIR engine of `--records fhir`, if it starts one
    try:
        nats_url = settings.nats_url
        if nats_url is None:
            nats = EmbeddedNats(home)
            nats_url = nats.url
            typer.echo(f"NATS (embedded, JetStream) at {nats_url}, data in {home / 'nats'}")
        database_url = settings.database_url
        if database_url is None:
            postgres = EmbeddedPostgres(home / "postgres")
            database_url = postgres.url
            typer.echo(f"Postgres (embedded) in {home / 'postgres'}")
        try:
            asyncio.run(migrate_all(database_url))
            seeded = asyncio.run(seed_all(database_url, settings.practice_file))
        except PracticeConfigError as exc:
            typer.echo(f"Practice configuration error: {exc}", err=True)
            raise typer.Exit(1) from None
        if any(seeded.values()):
            typer.echo(f"Seeded the demo practice: {seeded}")

        env = {
            # Readable lines in a terminal, JSON where a log collector reads them, unless configured.
            "IGNIS_LOG_FORMAT": "text" if sys.stderr.isatty() else "json",
            **os.environ,
            "IGNIS_HOME": str(home),
            "IGNIS_NATS_URL": nats_url,
            "IGNIS_DATABASE_URL": database_url,
        }
        if records is not None:
            env["IGNIS_RECORDS"] = records
        if env.get("IGNIS_RECORDS") == "fhir" and not env.get("IGNIS_FHIR_URL"):
            engine = trial.enter_context(_in_memory_fhir_engine())
            env |= {"IGNIS_FHIR_URL": engine.base_url, "IGNIS_FHIR_AUTH": "none"}
            typer.echo(IN_MEMORY_WARNING.format(url=engine.base_url), err=True)
        # What it started itself, it restarts when it dies (same data, same address).
        servers = [server for server in (nats, postgres) if server is not None]
        supervisor = Supervisor(_children(settings.replicas), env, servers)
        supervisor.start()
        base = f"http://{settings.gateway_host}:{settings.gateway_port}"
        lock.publish(nats_url, database_url, base)  # the admin commands find this system from now on
        ready = _wait_ready(base, supervisor)
        typer.echo(
            f"\nIgnis is {'ready' if ready else 'starting (not ready yet)'}: {base}\n"
            f"  tool secret (header X-Ignis-Tool-Secret): {settings.tool_secret.get_secret_value()}\n"
            "  try a tool call as ElevenLabs would: README.md, section 'Try it'\n"
            "Ctrl-C stops everything."
        )
        supervisor.run()
    except KeyboardInterrupt:
        pass
    finally:
        if supervisor is not None:
            supervisor.stop()
        if nats is not None:
            nats.stop()
        if postgres is not None:
            postgres.stop()
        trial.close()
        lock.release()
    typer.echo("Ignis stopped.")


IN_MEMORY_WARNING = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!  FHIR RECORD MODE ON AN IN-MEMORY FHIR SERVER: a local trial, NOT the practice's records.
!!  Medplum's FHIR engine of the tests ({url}) keeps everything IN MEMORY:
!!  every patient and appointment written there is LOST when Ignis stops. It starts empty (the demo
!!  patients are in Ignis' Postgres only): register a caller first. For real use set IGNIS_FHIR_URL.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


def _in_memory_fhir_engine() -> contextlib.AbstractContextManager[Any]:
    """Medplum's in-memory FHIR engine as the tests run it (tests/fhir_engine of a source checkout, `make
    fhir-engine`), loaded from its file: the test tree is no package of the product."""
    starter = Path(__file__).resolve().parents[2] / "tests" / "fhir_engine" / "engine.py"
    spec = importlib.util.spec_from_file_location("ignis_trial_fhir_engine", starter)
    if spec is None or spec.loader is None or not starter.exists():
        typer.echo(
            f"--records fhir without IGNIS_FHIR_URL needs the FHIR engine of the tests ({starter}): run it "
            "from a source checkout, or set IGNIS_FHIR_URL to a FHIR server.",
            err=True,
        )
        raise typer.Exit(1)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    running: contextlib.AbstractContextManager[Any] = module.running_engine()
    return running


def _children(replicas: dict[str, int]) -> list[Child]:
    """One process per service, or as many as IGNIS_REPLICAS asks (the gateway binds a port: one)."""
    children = []
    for name in PROCESSES:
        count = 1 if name == "gateway" else max(1, replicas.get(name, 1))
        for index in range(1, count + 1):
            label = name if count == 1 else f"{name}-{index}"
            children.append(Child(label, [sys.executable, "-m", "ignis.cli.main", "serve", name]))
    return children


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _wait_ready(base: str, supervisor: Supervisor, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not supervisor.stopping:
        supervisor.check()
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


@app.command()
def serve(process: Annotated[str, typer.Argument(help="gateway, patients, scheduler or notifier")]) -> None:
    """Run one process in the foreground (what `ignis up` supervises, and what a container runs)."""
    if process == "gateway":
        gateway_server.run(GatewaySettings(), factory="ignis.cli.web:create_app")  # with the staff app
        return
    if process not in PROCESSES:
        typer.echo(f"Unknown process {process!r}; choose one of {', '.join(PROCESSES)}.", err=True)
        raise typer.Exit(2)
    module = __import__(f"ignis.{process}.main", fromlist=["create_app"])
    # uvloop, as the gateway's uvicorn: every message is a few socket reads and writes (NATS, Postgres),
    # which cost a third less CPU than on asyncio's own loop.
    uvloop.run(module.create_app().run())


@app.command("migrate")
def migrate_command() -> None:
    """Create the database if needed and apply every service's pending migrations."""
    settings = Settings()  # the database only: no service's secrets needed
    applied = asyncio.run(migrate_all(settings.database))
    typer.echo(f"Migrations applied: {applied}")


@app.command()
def seed(
    practice_file: Annotated[Path | None, typer.Option(help="practice YAML (default: the demo)")] = None,
) -> None:
    """Load the practice file's demo data into empty schemas."""
    settings = Settings()  # the database only: no service's secrets needed
    try:
        typer.echo(
            f"Seeded: {asyncio.run(seed_all(settings.database, practice_file or settings.practice_file))}"
        )
    except PracticeConfigError as exc:
        typer.echo(f"Practice configuration error: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command("erase-patient")
def erase_patient(
    patient_id: Annotated[str, typer.Argument(help="the patient's id (as the staff API shows it)")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Erase a patient from every store (GDPR Art. 17): record, calls (unverified ones from their number
    too), requests here; every copy in the NATS streams; appointments and SMS records in the scheduler and
    the notifier (asked now, and through `patient.erased` if one is down). Prints counts per store."""
    from ignis.cli.erasure import NatsUnreachable, erase_everywhere

    try:
        key = uuid.UUID(patient_id)
    except ValueError:
        typer.echo("Not a patient id (expected a UUID).", err=True)
        raise typer.Exit(2) from None
    if not yes:
        typer.confirm(f"Erase patient {key} with calls, requests, appointments and SMS records?", abort=True)
    settings = Settings()  # the database and NATS only: no service's secrets needed
    try:
        removed = asyncio.run(erase_everywhere(settings.database, settings.nats, key, elevenlabs=settings))
    except NatsUnreachable as exc:
        typer.echo(f"{exc}; nothing erased. Start NATS (or set IGNIS_NATS_URL) and run it again.", err=True)
        raise typer.Exit(1) from None
    if removed is None:
        typer.echo(f"No patient {key}.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Erased patient {key}:")
    for store, counts in removed.items():
        if counts is None:
            typer.echo(f"  {store}: pending: {store} erases when it is back")
        elif isinstance(counts, str):
            typer.echo(f"  {store}: {counts}")
        else:
            typer.echo(f"  {store}: " + ", ".join(f"{name} {count}" for name, count in counts.items()))


@app.command("purge-calls")
def purge_calls() -> None:
    """Delete call records past their retention date now (the patients service also does so hourly), and
    their conversations at ElevenLabs (with those still pending from before)."""
    from ignis.cli.erasure import delete_at_elevenlabs

    settings = Settings()  # the database only: no service's secrets needed
    purged = asyncio.run(
        in_patients_schema(
            settings.database,
            lambda repo: retention.purge_expired_calls(repo, utcnow()),
        )
    )
    typer.echo(f"Deleted {purged} expired call records.")
    typer.echo(f"  elevenlabs: {asyncio.run(delete_at_elevenlabs(settings.database, settings))}")


@app.command("reconcile-calls")
def reconcile_calls(
    since: Annotated[
        str,
        typer.Option(
            help="an ISO date or time (2026-11-20, 2026-11-20T08:00+01:00) or a time back from now (36h, 2d)"
        ),
    ] = "72h",
) -> None:
    """Fetch from ElevenLabs every finished conversation since then that has no call record, and store it
    (as the patients service does every IGNIS_RECONCILE_EVERY_MINUTES): for a webhook that was down."""
    from elevenlabs.core.api_error import ApiError

    from ignis.cli.setup import with_sessionmaker
    from ignis.kit.crypto import use_data_keys
    from ignis.patients.reconcile import reconcile
    from ignis.patients.settings import PatientsSettings

    try:
        start = parse_since(since, utcnow())
    except ValueError:
        typer.echo(f"--since {since!r}: an ISO date or time, or a duration such as 36h or 2d.", err=True)
        raise typer.Exit(2) from None
    settings = PatientsSettings()
    use_data_keys(settings.data_keys.get_secret_value())  # call records are stored encrypted
    try:
        result = asyncio.run(
            with_sessionmaker(settings.database, lambda made: reconcile(made, settings, start))
        )
    except ApiError as exc:
        typer.echo(
            f"ElevenLabs answered {exc.status_code}: check IGNIS_ELEVENLABS_API_KEY, then run again.",
            err=True,
        )
        raise typer.Exit(1) from None
    except (httpx.HTTPError, OSError) as exc:
        typer.echo(f"ElevenLabs not reachable ({type(exc).__name__}): run again later.", err=True)
        raise typer.Exit(1) from None
    if result is None:
        typer.echo("ElevenLabs is not configured: set IGNIS_ELEVENLABS_API_KEY.", err=True)
        raise typer.Exit(2)
    typer.echo(f"Since {start:%Y-%m-%d %H:%M} UTC: {result}.")


def parse_since(text: str, now: dt.datetime) -> dt.datetime:
    """`36h`, `2d`, `90m` back from `now`, or an ISO date (midnight UTC) or time (UTC if it has no zone)."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    value = text.strip().lower()
    if value[-1:] in units and value[:-1].isdigit():
        return now - dt.timedelta(**{units[value[-1]]: int(value[:-1])})
    moment = dt.datetime.fromisoformat(value.upper() if "t" in value else value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@app.command("rotate-data-key")
def rotate_data_key() -> None:
    """Re-encrypt every encrypted column with the first key of IGNIS_DATA_KEYS (and encrypt rows from before
    encryption). Rotation: put a new key first (`NEW,OLD`) everywhere, restart, run this, then drop OLD."""
    from ignis.cli.setup import reencrypt_all
    from ignis.kit.crypto import DataKeyError, use_data_keys
    from ignis.kit.settings import DataSettings

    settings = DataSettings()
    use_data_keys(settings.data_keys.get_secret_value())
    try:
        rewritten = asyncio.run(reencrypt_all(settings.database))
    except DataKeyError as exc:
        typer.echo(f"{exc}; nothing changed in that schema.", err=True)
        raise typer.Exit(1) from None
    for schema, tables in rewritten.items():
        typer.echo(f"{schema}: " + ", ".join(f"{table} {rows}" for table, rows in tables.items()))
    typer.echo("Every encrypted value uses the first key now: older keys can leave IGNIS_DATA_KEYS.")


@app.command("new-data-key")
def new_data_key() -> None:
    """Print a fresh key for IGNIS_DATA_KEYS (put it first to rotate)."""
    from ignis.kit.crypto import new_data_key as generate

    typer.echo(generate())


@app.command("dead-letters")
def dead_letters_command(
    replay: Annotated[list[int] | None, typer.Option(help="replay the dead letter with this number")] = None,
    replay_all: Annotated[bool, typer.Option("--replay-all", help="replay every dead letter")] = False,
) -> None:
    """List what failed every delivery attempt (never its content), and replay it once the cause is fixed."""
    from ignis.kit.dead_letters import dead_letters
    from ignis.kit.dead_letters import replay as replay_letters

    nats_url = Settings().nats
    letters = asyncio.run(dead_letters(nats_url))
    if replay or replay_all:
        chosen = [letter.sequence for letter in letters] if replay_all else list(replay or [])
        unknown = set(chosen) - {letter.sequence for letter in letters}
        if unknown:
            typer.echo(f"No dead letter {', '.join(map(str, sorted(unknown)))}.", err=True)
            raise typer.Exit(2)
        done = asyncio.run(replay_letters(nats_url, chosen))
        typer.echo(f"Replayed {done} of {len(chosen)}.")
        raise typer.Exit(0 if done == len(chosen) else 1)
    if not letters:
        typer.echo("No dead letters.")
        return
    for letter in letters:
        typer.echo(
            f"{letter.sequence:>6}  {letter.failed_at:%Y-%m-%d %H:%M:%S}  {letter.subject}  "
            f"{letter.error}  {letter.size} bytes"
        )


staff_cli = typer.Typer(help="Accounts of the practice team's web app (/praxis/).", no_args_is_help=True)
app.add_typer(staff_cli, name="staff")


@staff_cli.command("add")
def staff_add(
    name: Annotated[str, typer.Argument(help="the name the person signs in with")],
    role: Annotated[str, typer.Option(help="staff or admin (admins also see the system page)")] = "staff",
    url: Annotated[
        str | None, typer.Option(help="the gateway's address (default IGNIS_PUBLIC_URL, else this machine's)")
    ] = None,
) -> None:
    """Create an account and print its one-time set-up link (the person chooses their password there)."""
    from ignis.cli.web import STAFF_APP_PATH
    from ignis.staff_app import accounts
    from ignis.staff_app.main import policy
    from ignis.staff_app.repository import StaffRepository
    from ignis.staff_app.settings import StaffAppSettings

    if role not in {r.value for r in accounts.Role} or not name.strip() or len(name) > 100:
        typer.echo("Give a name (up to 100 characters) and --role staff or --role admin.", err=True)
        raise typer.Exit(2)
    settings = StaffAppSettings()

    async def add(sessionmaker: "async_sessionmaker[AsyncSession]") -> str:
        async with sessionmaker() as session, session.begin():
            _, token = await accounts.add_account(
                StaffRepository(session), name.strip(), accounts.Role(role), dt.datetime.now(dt.UTC),
                policy(settings),
            )  # fmt: skip
        return token

    asyncio.run(migrate_all(settings.database))
    try:
        token = asyncio.run(with_sessionmaker(settings.database, add))
    except accounts.AccountExists:
        typer.echo(f"An account named {name.strip()!r} exists already.", err=True)
        raise typer.Exit(1) from None
    gateway = GatewaySettings()
    base = url or settings.public_url or f"http://{gateway.gateway_host}:{gateway.gateway_port}"
    typer.echo(
        f"Account {name.strip()!r} ({role}) created. Its one-time set-up link, valid for "
        f"{settings.staff_setup_hours} hours:\n{base.rstrip('/')}{STAFF_APP_PATH}/einrichten/{token}"
    )


@app.command()
def provision(
    public_url: Annotated[
        str | None, typer.Option(help="the gateway's public HTTPS URL (default IGNIS_PUBLIC_URL)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan, change nothing")] = False,
) -> None:
    """Set up ElevenLabs for this gateway: tool secret, tools, agent, webhooks, SIP number. Idempotent."""
    from ignis.provision.workspace import ProvisionError, Workspace, connect

    settings = _provision_settings(public_url)
    key = settings.elevenlabs_api_key.get_secret_value() if settings.elevenlabs_api_key else ""
    if not key:
        typer.echo(
            "IGNIS_ELEVENLABS_API_KEY is not set: create an API key in ElevenLabs (Settings → API keys) "
            "with access to Agents and workspace webhooks, and set it.",
            err=True,
        )
        raise typer.Exit(2)
    practice, texts = _practice_and_texts(settings)
    target = settings.elevenlabs_api_url or "ElevenLabs"
    typer.echo(f"{'Plan for' if dry_run else 'Provisioning'} {target} → {settings.public_url}")
    try:
        with connect(settings) as client:
            report = lambda change: typer.echo(f"  {change}")  # noqa: E731
            changes = Workspace(client, settings, practice, texts, dry_run=dry_run, report=report).run()
    except ProvisionError as exc:
        typer.echo(f"✗ {exc}", err=True)
        raise typer.Exit(1) from None
    todo = [c for c in changes if c.action != "unchanged"]
    if not todo:
        typer.echo("Nothing to change: ElevenLabs already matches.")
    elif dry_run:
        typer.echo(f"{len(todo)} change(s) planned; run without --dry-run to apply them.")
    else:
        typer.echo(f"Done: {len(todo)} change(s) applied.")
        if any(c.resource == "post-call webhook" for c in todo) and os.environ.get(
            "IGNIS_ELEVENLABS_WEBHOOK_SECRET"
        ):
            typer.echo(
                "Note: IGNIS_ELEVENLABS_WEBHOOK_SECRET is set in the environment and wins over the new "
                f"secret in {settings.home / 'secrets.json'}: unset it, or set it to that value.",
                err=True,
            )


@app.command()
def doctor(
    public_url: Annotated[
        str | None, typer.Option(help="the gateway's public HTTPS URL (default IGNIS_PUBLIC_URL)")
    ] = None,
) -> None:
    """Check the whole call path, from ElevenLabs' SIP edge to this gateway and sipgate; each with a fix."""
    from ignis.provision.doctor import Doctor

    settings = _provision_settings(public_url)
    practice = _practice(settings)
    checks = asyncio.run(Doctor(settings, practice).run())
    for check in checks:
        typer.echo(str(check))
    failed = [check for check in checks if check.outcome == "fail"]
    typer.echo(
        f"\n{len(failed)} of {len(checks)} checks failed."
        if failed
        else f"\nAll {len(checks)} checks passed."
    )
    if failed:
        raise typer.Exit(1)


@app.command("demo-call")
def demo_call(
    url: Annotated[
        str | None, typer.Option(help="the gateway (default: this machine's, as `ignis up` runs it)")
    ] = None,
    scene: Annotated[
        str,
        typer.Option(
            help="termin (book, prescription), warteliste (a freed slot held for the waiting list), "
            "kurzfristig (a short-notice cancellation)"
        ),
    ] = "termin",
) -> None:
    """Play a scripted German call against a running gateway, as ElevenLabs would, and print each turn."""
    from ignis.provision import demo_call as demo

    if scene not in demo.SCENES:
        typer.echo(f"Unknown scene {scene!r}; one of: {', '.join(demo.SCENES)}", err=True)
        raise typer.Exit(2)
    settings = GatewaySettings()
    practice = _practice(settings)
    base = url or f"http://{settings.gateway_host}:{settings.gateway_port}"
    try:
        demo.run(
            base,
            practice,
            settings.tool_secret.get_secret_value(),
            settings.elevenlabs_webhook_secret.get_secret_value(),
            say=typer.echo,
            scene=scene,
        )
    except demo.DemoCallFailed as exc:
        typer.echo(f"✗ {exc}", err=True)
        raise typer.Exit(1) from None


def _provision_settings(public_url: str | None) -> "ProvisionSettings":
    from pydantic import ValidationError

    from ignis.provision.settings import ProvisionSettings

    try:
        return ProvisionSettings(public_url=public_url) if public_url else ProvisionSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        typer.echo(f"Settings error: {problems}", err=True)
        raise typer.Exit(2) from None


def _practice(settings: GatewaySettings) -> Practice:
    from ignis.practice.config import load_practice

    try:
        return load_practice(settings.practice_file)
    except PracticeConfigError as exc:
        typer.echo(f"Practice configuration error: {exc}", err=True)
        raise typer.Exit(1) from None


def _practice_and_texts(settings: "ProvisionSettings") -> tuple[Practice, "AgentTexts"]:
    from ignis.provision.agent import AgentTextError, render_texts

    practice = _practice(settings)
    try:
        return practice, render_texts(practice, settings.agent_dir)
    except AgentTextError as exc:
        typer.echo(f"Agent text error: {exc}", err=True)
        raise typer.Exit(1) from None


if __name__ == "__main__":
    app()

"""The operator subcommands of ``pgo-service`` for the sync with provider EHRs.

They work on the database directly (``PGO_DATABASE_URL``, or the SQLite file in
``PGO_DATA_DIR``) and are never HTTP endpoints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine

from .config import get_settings

if TYPE_CHECKING:
    from .config import Settings
    from .sync.worker import Handler

_T = TypeVar("_T")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _in_transaction(work: Callable[[Connection], _T], *, write: bool = True) -> _T:
    from .db.engine import make_engine, transaction

    engine = make_engine(get_settings().resolved_database_url())
    try:
        with transaction(engine, write=write) as conn:
            return work(conn)
    finally:
        engine.dispose()


def _fail(message: str) -> int:
    print(f"pgo-service: {message}", file=sys.stderr)
    return 2


def _import_zal(args: argparse.Namespace) -> int:
    from .sync.registry import RegistryError, import_zal

    document = Path(args.file).read_bytes()
    dev_mode = get_settings().dev_mode
    try:
        result = _in_transaction(lambda conn: import_zal(conn, document, _now(), dev_mode=dev_mode))
    except RegistryError as error:
        return _fail(str(error))
    print(
        f"provider list {result.sequence_number} imported: {result.providers} providers,"
        f" {result.data_services} data services, {result.delisted} no longer listed"
    )
    return 0


def _import_whitelist(args: argparse.Namespace) -> int:
    from .sync.registry import RegistryError, import_whitelist

    document = Path(args.file).read_bytes()
    try:
        count = _in_transaction(lambda conn: import_whitelist(conn, document, _now()))
    except RegistryError as error:
        return _fail(str(error))
    print(f"{count} hosts imported from the whitelist")
    return 0


def _allow_host(args: argparse.Namespace) -> int:
    from .sync.registry import RegistryError, allow_host

    try:
        _in_transaction(lambda conn: allow_host(conn, args.hostname, _now()))
    except RegistryError as error:
        return _fail(str(error))
    print(f"{args.hostname.lower()} allowed")
    return 0


def _disallow_host(args: argparse.Namespace) -> int:
    from .sync.registry import disallow_host

    if not _in_transaction(lambda conn: disallow_host(conn, args.hostname)):
        return _fail(f"{args.hostname} was not on the allow list")
    print(f"{args.hostname.lower()} no longer allowed")
    return 0


def _set_fhir_version(args: argparse.Namespace) -> int:
    from .sync.registry import RegistryError, set_fhir_version

    version = None if args.version == "default" else args.version
    try:
        _in_transaction(lambda conn: set_fhir_version(conn, args.provider, args.service, version))
    except RegistryError as error:
        return _fail(str(error))
    return 0


def _set_revocation_endpoint(args: argparse.Namespace) -> int:
    from .sync.connect import set_revocation_endpoint
    from .sync.hosts import EndpointError

    uri = None if args.uri == "none" else args.uri
    dev_mode = get_settings().dev_mode
    try:
        _in_transaction(
            lambda conn: set_revocation_endpoint(
                conn, args.provider, args.service, uri, dev_mode=dev_mode
            )
        )
    except EndpointError as error:
        return _fail(f"{args.uri}: {error}")
    return 0


def _list(_args: argparse.Namespace) -> int:
    from .sync.connect import revocation_endpoint
    from .sync.hosts import EndpointError, parse_host_list
    from .sync.registry import host_policy, providers

    settings = get_settings()
    extra = parse_host_list(settings.sync_allowed_hosts)

    def read(conn: Connection) -> tuple[Any, Any, dict[tuple[str, str], str]]:
        entries = providers(conn)
        revocation = {
            (p.name, s.service_id): uri
            for p in entries
            for s in p.data_services
            if (uri := revocation_endpoint(conn, p.name, s.service_id)) is not None
        }
        return entries, host_policy(conn, extra, dev_mode=settings.dev_mode), revocation

    entries, policy, revocation = _in_transaction(read, write=False)

    def mark(uri: str) -> str:
        try:
            policy.check(uri)
        except EndpointError as error:
            return f"{uri}  (not callable: {error})"
        return uri

    for provider in entries:
        print(provider.name + ("" if provider.listed else "  (no longer listed)"))
        for service in provider.data_services:
            how = "stated" if service.fhir_version_stated else "default"
            print(f"  data service {service.service_id}: FHIR {service.fhir_version} ({how})")
            print(f"    authorization {mark(service.authorization_endpoint)}")
            print(f"    token         {mark(service.token_endpoint)}")
            if (provider.name, service.service_id) in revocation:
                print(f"    revocation    {mark(revocation[provider.name, service.service_id])}")
            for role, uri in service.resource_endpoints.items():
                print(f"    resource      {mark(uri)}  [{role}]")
    if not entries:
        print("no providers; import a provider list with: pgo-service providers import-zal FILE")
    return 0


def _hosts(_args: argparse.Namespace) -> int:
    from .sync.hosts import parse_host_list
    from .sync.registry import allowed_hosts

    hosts = _in_transaction(allowed_hosts, write=False)
    for host in sorted(parse_host_list(get_settings().sync_allowed_hosts)):
        hosts.setdefault(host, "PGO_SYNC_ALLOWED_HOSTS")
    for host, source in sorted(hosts.items()):
        print(f"{host}  ({source})")
    return 0


def sync_handlers(settings: Settings, engine: Engine) -> dict[str, Handler]:
    """The job kinds workers run: revoking forgotten provider tokens and, once the
    service is configured as a client of providers, push (asking the client's consent
    when it runs) and pull with the client's tokens at each provider."""
    from .api.app import sync_handlers as data_handlers
    from .auth.crypto import SecretBox
    from .sync.connect import ClientConfig, ConnectionTokens, connection_handlers
    from .sync.worker import default_handlers

    box = SecretBox(settings.resolved_secret_key())
    handlers = {**default_handlers(), **connection_handlers(settings, box)}
    config = ClientConfig.from_settings(settings)
    if config is not None:
        handlers.update(data_handlers(settings, ConnectionTokens(engine, box, config)))
    return handlers


def _worker(args: argparse.Namespace) -> int:
    import logging
    import signal

    from .db.engine import make_engine
    from .sync.worker import WorkerConfig, WorkerThreads

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    workers = WorkerThreads(
        engine,
        sync_handlers(settings, engine),
        WorkerConfig.from_settings(settings),
        count=args.threads,
    )

    def stop(_signum: int, _frame: Any) -> None:
        workers.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    workers.start()
    print(f"pgo-service worker: {args.threads} thread(s) running", flush=True)
    while not workers.stop_event.wait(1):
        pass
    workers.stop()
    engine.dispose()
    return 0


def _status(args: argparse.Namespace) -> int:
    from .sync.jobs import STATUSES, dead_jobs, outbox_status
    from .sync.quarantine import quarantined

    status, dead, (aside, set_aside) = _in_transaction(
        lambda conn: (
            outbox_status(conn),
            dead_jobs(conn, args.dead),
            quarantined(conn, args.set_aside),
        ),
        write=False,
    )
    totals = dict.fromkeys(STATUSES, 0)
    for counts in status.counts.values():
        for state, value in counts.items():
            totals[state] += value
    print("jobs: " + ", ".join(f"{state} {totals[state]}" for state in STATUSES))
    for kind in sorted(status.counts):
        counts = status.counts[kind]
        print(f"  {kind}: " + ", ".join(f"{s} {counts.get(s, 0)}" for s in STATUSES))
    if status.oldest_due is not None:
        print(f"oldest queued job due since {status.oldest_due.isoformat()}Z")
    for kind in sorted(status.counters):
        counters = status.counters[kind]
        print(f"counters {kind}: " + ", ".join(f"{n} {v}" for n, v in sorted(counters.items())))
    if dead:
        print("dead jobs (newest first):")
    for job in dead:
        where = " ".join(
            part
            for part in (
                f"provider {job.provider_name}" if job.provider_name else "",
                f"patient {job.patient_id}" if job.patient_id else "",
            )
            if part
        )
        print(
            f"  #{job.id} {job.kind} {where} attempts {job.attempts}"
            f" at {job.updated_at.isoformat()}Z: {job.last_error or ''}"
        )
    print(f"provider resources set aside: {aside}")
    for item in set_aside:
        version = f" version {item.source_version}" if item.source_version else ""
        print(
            f"  {item.provider_name} {item.resource_type}/{item.remote_id}{version}"
            f" (data service {item.service_id}, since {item.first_seen.isoformat()}Z,"
            f" last {item.last_seen.isoformat()}Z): {item.reason}"
        )
    return 0


def _requeue(args: argparse.Namespace) -> int:
    from .sync.jobs import requeue

    if not _in_transaction(lambda conn: requeue(conn, args.job_id, _now())):
        return _fail(f"job {args.job_id} is not a dead job")
    print(f"job {args.job_id} queued again")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from .sync.jobs import cancel_jobs

    count = _in_transaction(
        lambda conn: cancel_jobs(
            conn,
            patient_id=args.patient,
            provider_name=args.provider,
            now=_now(),
            reason=args.reason,
        )
    )
    print(f"{count} jobs cancelled")
    return 0


def register_sync_commands(commands: Any) -> None:
    """Add ``providers``, ``sync`` and ``worker`` to the command's subparsers."""
    worker = commands.add_parser("worker", help="run the sync jobs of the outbox until stopped")
    worker.add_argument("--threads", type=int, default=1, help="workers in this process")
    worker.add_argument("--log-level", default="info")
    worker.set_defaults(func=_worker)

    sync = commands.add_parser("sync", help="the outbox of calls to providers").add_subparsers(
        dest="sync_command", required=True
    )
    status = sync.add_parser("status", help="jobs per status, counters and the dead jobs")
    status.add_argument("--dead", type=int, default=20, help="how many dead jobs to show")
    status.add_argument(
        "--set-aside",
        type=int,
        default=20,
        help="how many provider resources a pull set aside to show (newest first)",
    )
    status.set_defaults(func=_status)
    again = sync.add_parser("requeue", help="send a dead job round again")
    again.add_argument("job_id", type=int)
    again.set_defaults(func=_requeue)
    cancel = sync.add_parser("cancel", help="cancel the unfinished jobs of a patient at a provider")
    cancel.add_argument("--patient", required=True, help="Patient id")
    cancel.add_argument("--provider", required=True, help="Zorgaanbiedernaam")
    cancel.add_argument("--reason", default="cancelled by an operator")
    cancel.set_defaults(func=_cancel)

    providers = commands.add_parser(
        "providers", help="the provider registry and the hosts the service may call"
    ).add_subparsers(dest="providers_command", required=True)
    zal = providers.add_parser(
        "import-zal", help="import MedMij's provider list (Zorgaanbiederslijst, XML)"
    )
    zal.add_argument("file")
    zal.set_defaults(func=_import_zal)
    whitelist = providers.add_parser(
        "import-whitelist", help="import MedMij's whitelist of node hostnames (XML)"
    )
    whitelist.add_argument("file")
    whitelist.set_defaults(func=_import_whitelist)
    listing = providers.add_parser("list", help="providers, data services and endpoints")
    listing.set_defaults(func=_list)
    hosts = providers.add_parser("hosts", help="the hosts the service may call")
    hosts.set_defaults(func=_hosts)
    allow = providers.add_parser("allow-host", help="allow calls to a host")
    allow.add_argument("hostname")
    allow.set_defaults(func=_allow_host)
    disallow = providers.add_parser("disallow-host", help="no longer allow calls to a host")
    disallow.add_argument("hostname")
    disallow.set_defaults(func=_disallow_host)
    version = providers.add_parser(
        "set-fhir-version", help="state the FHIR version a data service speaks"
    )
    version.add_argument("provider")
    version.add_argument("service", help="GegevensdienstId")
    version.add_argument("version", choices=["R4", "STU3", "default"])
    version.set_defaults(func=_set_fhir_version)
    revocation = providers.add_parser(
        "set-revocation-endpoint",
        help="state a data service's token revocation endpoint (RFC 7009), or 'none'",
    )
    revocation.add_argument("provider")
    revocation.add_argument("service")
    revocation.add_argument("uri")
    revocation.set_defaults(func=_set_revocation_endpoint)

"""Pull: read a client's agreements, goals, care teams and tasks from a provider's
data service and merge them into the client's zorgleefplan (``merge``).

One job per (client, provider, data service). Per resource type (Goal, CareTeam,
CarePlan, Task, so that references can be translated) it searches the resource
endpoint with the client's token at that provider, which is what identifies the client:
the URL carries no patient and never a BSN. It reads incrementally, sorted by
``_lastUpdated`` from the cursor, and follows ``Bundle.link[next]`` only to the same
scheme, host and port as the endpoint (and, like every call, only to allowed hosts).

Each resource of a page is validated (R4 against the R4 models; STU3 against the STU3
models, then converted, see ``convert_stu3``), and the page is merged in one
transaction together with the type's cursor, which becomes the newest
``meta.lastUpdated`` of the page. A resource that is not valid FHIR or that a rule of
the plan refuses is set aside (``quarantine``) and the rest of the page is merged; a
later version of it that merges clears it. A page that is not a searchset of
identifiable resources fails the job and leaves nothing of itself behind.
The search says ``_lastUpdated=ge<cursor>``, not ``gt``: several resources can share
one instant across a page boundary, and merging one again is a no-op.

After the incremental pass, deletions at the source are found by counting: when the
source has fewer resources of a type than we merged and did not end, the job lists
the source's ids and ends ours that are gone (``Merger.end_deleted``).

A job reads at most ``max_pages`` pages, then queues the next pull of the same client
and ends, so one large record does not hold a worker (or outlive its lease).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from ..db.engine import transaction
from ..db.sync_tables import sync_pull_cursor
from ..fhir.errors import FhirError
from ..fhir.jsonio import parse_json
from ..fhir.validation import check_resource
from .codes import code_problem
from .convert_stu3 import Stu3Error, to_r4
from .jobs import ClaimedJob, enqueue
from .merge import PULLED_TYPES, ContextFactory, MergeError, Merger, Source, source_version
from .outbound import JobFailed, raise_for_outcome
from .push import TokenSource
from .quarantine import Rejected, clear, set_aside
from .registry import data_service
from .worker import Handler, JobContext

PULL = "pull"
_FHIR_JSON = "application/fhir+json"
_BSN_IN_URL = re.compile(r"bsn|2\.16\.840\.1\.113883\.2\.4\.6\.3", re.IGNORECASE)
_MAX_LINKS = 100_000  # a provider whose next links never end


def pull_dedupe_key(provider_name: str, service_id: str, patient_id: str) -> str:
    return f"{PULL}:{provider_name}:{service_id}:{patient_id}"


def enqueue_pull(
    conn: Connection,
    *,
    patient_id: str,
    provider_name: str,
    service_id: str,
    now: datetime,
    max_attempts: int,
) -> int:
    """Queue a pull of this client's data from this data service (in the caller's
    transaction); a pull of the same that is still queued covers it."""
    return enqueue(
        conn,
        PULL,
        {"service": service_id},
        now=now,
        max_attempts=max_attempts,
        provider_name=provider_name,
        patient_id=patient_id,
        dedupe_key=pull_dedupe_key(provider_name, service_id, patient_id),
    )


def _cursor(conn: Connection, job: ClaimedJob, service_id: str, resource_type: str) -> str | None:
    c = sync_pull_cursor.c
    value = conn.execute(
        select(c.cursor).where(
            c.patient_id == job.patient_id,
            c.provider_name == job.provider_name,
            c.service_id == service_id,
            c.resource_type == resource_type,
        )
    ).scalar_one_or_none()
    return None if value is None else str(value)


def _save_cursor(
    conn: Connection,
    job: ClaimedJob,
    service_id: str,
    resource_type: str,
    value: str,
    now: datetime,
) -> None:
    key = ("patient_id", "provider_name", "service_id", "resource_type")
    values = {
        "patient_id": job.patient_id,
        "provider_name": job.provider_name,
        "service_id": service_id,
        "resource_type": resource_type,
        "cursor": value,
        "updated_at": now,
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(sync_pull_cursor)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[sync_pull_cursor.c[k] for k in key],
            set_={"cursor": value, "updated_at": now},
        )
    )


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _later(first: str | None, second: str | None) -> str | None:
    if first is None or second is None:
        return first or second
    try:
        return second if _instant(second) > _instant(first) else first
    except ValueError:
        return first


def _origin(url: str | httpx.URL) -> tuple[str, str, int | None]:
    parsed = httpx.URL(str(url))
    return parsed.scheme, parsed.host, parsed.port


class _Invalid(Exception):
    """One resource of a page is not valid FHIR."""


class _Reader:
    """The HTTP side of one pull job: searches, pages, validation."""

    def __init__(self, context: JobContext, source: Source, token: str) -> None:
        self.context = context
        self.source = source
        self.headers = {"Authorization": f"Bearer {token}", "Accept": _FHIR_JSON}

    def get(self, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        text = str(httpx.URL(url, params=params))
        if _BSN_IN_URL.search(text):
            raise JobFailed("refused: a pull never puts a BSN in a URL")
        if _origin(text) != _origin(self.source.endpoint):
            raise JobFailed(
                f"refused a link away from the data service's endpoint: {text.split('?')[0]}"
            )
        response = self.context.http.request("GET", url, params=params, headers=self.headers)
        raise_for_outcome(response, self.context.clock())
        try:
            bundle = parse_json(response.content)
        except FhirError as error:
            raise JobFailed(
                f"invalid FHIR from {self.source.provider_name}: {error.message}"
            ) from None
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise JobFailed(f"invalid FHIR from {self.source.provider_name}: not a Bundle")
        return bundle

    def resources(
        self, bundle: dict[str, Any], resource_type: str
    ) -> tuple[list[dict[str, Any]], list[Rejected], str | None]:
        """The page's matches that are valid (in R4), those that are not, and the newest
        ``meta.lastUpdated`` among all of them."""
        valid: list[dict[str, Any]] = []
        rejected: list[Rejected] = []
        newest: str | None = None
        for index, entry in enumerate(bundle.get("entry") or []):
            if not isinstance(entry, dict):
                raise JobFailed(f"invalid FHIR from {self.source.provider_name}: entry {index}")
            mode = (entry.get("search") or {}).get("mode")
            resource = entry.get("resource")
            if mode in ("include", "outcome") or (
                isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome"
            ):
                continue
            where = f"{self.source.provider_name} {resource_type} search, entry {index}"
            remote_id = resource.get("id") if isinstance(resource, dict) else None
            if not isinstance(remote_id, str) or not remote_id or len(remote_id) > 128:
                raise JobFailed(f"invalid FHIR from {where}: not a resource with an id")
            assert isinstance(resource, dict)
            meta = resource.get("meta")
            updated = meta.get("lastUpdated") if isinstance(meta, dict) else None
            newest = _later(newest, updated if isinstance(updated, str) else None)
            try:
                valid.append(self._valid(resource, resource_type))
            except _Invalid as error:
                rejected.append(Rejected(remote_id, source_version(resource), str(error)))
        return valid, rejected, newest

    def _valid(self, resource: dict[str, Any], resource_type: str) -> dict[str, Any]:
        remote_id = resource["id"]
        if resource.get("resourceType") != resource_type:
            raise _Invalid(f"invalid FHIR: not a {resource_type}")
        try:
            if self.source.fhir_version == "STU3":
                valid = to_r4(resource)
                valid["id"] = remote_id
                valid["meta"] = resource.get("meta")
            else:
                valid = check_resource(resource, resource_type)
        except Stu3Error as error:
            raise _Invalid(f"invalid FHIR: {error}") from None
        except FhirError as error:
            raise _Invalid(f"invalid FHIR: {error.message}") from None
        problem = code_problem(resource_type, valid)
        if problem is not None:
            raise _Invalid(f"invalid FHIR: {problem}")
        return valid

    def next_link(self, bundle: dict[str, Any]) -> str | None:
        for link in bundle.get("link") or []:
            if isinstance(link, dict) and link.get("relation") == "next":
                url = link.get("url")
                return url if isinstance(url, str) and url else None
        return None


def pull_handler(
    tokens: TokenSource,
    contexts: ContextFactory,
    *,
    page_size: int = 100,
    max_pages: int = 50,
    max_attempts: int = 10,
) -> Handler:
    """The handler of ``pull`` jobs: ``tokens`` gives the client's token at the provider,
    ``contexts`` a write Context with the zorgleefplan's rules."""

    def pull(job: ClaimedJob, context: JobContext) -> None:
        provider, patient = job.provider_name, job.patient_id
        service_id = job.payload.get("service")
        if provider is None or patient is None or not isinstance(service_id, str):
            raise JobFailed("a pull names its client, provider and data service")
        with transaction(context.engine, write=False) as conn:
            service = data_service(conn, provider, service_id)
            token = tokens(conn, provider, service_id, patient)
        if service is None:
            raise JobFailed(f"{provider} is not listed with data service {service_id}")
        if not service.resource_endpoints:
            raise JobFailed(f"{provider} data service {service_id} has no resource endpoint")
        if token is None:
            raise JobFailed(f"no access token for this client at {provider}")
        endpoint = service.resource_endpoints[sorted(service.resource_endpoints)[0]].rstrip("/")
        source = Source(provider, service_id, endpoint, service.fhir_version)
        reader = _Reader(context, source, token)
        pages = 0
        for resource_type in PULLED_TYPES:
            pages, finished = _pull_type(
                job, context, reader, contexts, resource_type, pages, page_size, max_pages
            )
            if not finished:
                with transaction(context.engine) as conn:
                    enqueue_pull(
                        conn,
                        patient_id=patient,
                        provider_name=provider,
                        service_id=service_id,
                        now=context.clock(),
                        max_attempts=max_attempts,
                    )
                return
        for resource_type in PULLED_TYPES:
            _reconcile(job, context, reader, contexts, resource_type, page_size)

    return pull


def _merge_page(
    job: ClaimedJob,
    context: JobContext,
    contexts: ContextFactory,
    source: Source,
    resource_type: str,
    page: _Page,
    apply: Callable[[Merger], None],
) -> None:
    """Merge a page in one transaction: what cannot be merged is set aside, what merged
    is no longer; ``apply`` runs last (the cursor, or ending what the source deleted)."""
    assert job.patient_id is not None
    try:
        with transaction(context.engine) as conn:
            ctx = contexts(conn)
            merger = Merger(ctx, source, job.patient_id, context.clock())
            rejected = list(page.rejected)
            if page.resources:
                rejected += merger.merge(resource_type, page.resources)
            set_aside_ids = {r.remote_id for r in rejected}
            where = {
                "patient_id": job.patient_id,
                "provider_name": source.provider_name,
                "resource_type": resource_type,
            }
            if rejected:
                service, moment = source.service_id, merger.fetched_at
                set_aside(conn, **where, service_id=service, rejected=rejected, now=moment)
            merged = [str(r["id"]) for r in page.resources if str(r["id"]) not in set_aside_ids]
            clear(conn, **where, remote_ids=merged)
            apply(merger)
            try:
                ctx.run_deferred()
            except FhirError as error:
                raise MergeError(
                    f"{resource_type} page of {source.provider_name}: {error.message}"
                ) from error
    except MergeError as error:
        raise JobFailed(str(error)) from None


@dataclass(frozen=True)
class _Page:
    resources: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def _pull_type(
    job: ClaimedJob,
    context: JobContext,
    reader: _Reader,
    contexts: ContextFactory,
    resource_type: str,
    pages: int,
    page_size: int,
    max_pages: int,
) -> tuple[int, bool]:
    """Read and merge pages of one type; (pages read so far, whether it reached the end)."""
    source = reader.source
    with transaction(context.engine, write=False) as conn:
        start = _cursor(conn, job, source.service_id, resource_type)
    params = {"_sort": "_lastUpdated", "_count": str(page_size)}
    if start is not None:
        params["_lastUpdated"] = f"ge{start}"
    url: str | None = f"{source.endpoint}/{resource_type}"
    cursor, links = start, 0
    query: dict[str, str] | None = params
    while url is not None:
        bundle = reader.get(url, query)
        resources, rejected, newest = reader.resources(bundle, resource_type)
        page_cursor = _later(cursor, newest)

        def advance(merger: Merger, value: str | None = page_cursor) -> None:
            if value is not None and value != start:
                _save_cursor(
                    merger.conn, job, source.service_id, resource_type, value, context.clock()
                )

        page = _Page(resources, rejected)
        _merge_page(job, context, contexts, source, resource_type, page, advance)
        cursor, pages, links = page_cursor, pages + 1, links + 1
        following = reader.next_link(bundle)
        if following is None or following == url or links >= _MAX_LINKS:
            return pages, True
        # A tie of more resources at one instant than a job reads would never move the
        # cursor: then this job keeps following the links past its page budget.
        if pages >= max_pages and cursor != start:
            return pages, False
        url, query = following, None
    return pages, True


def _reconcile(
    job: ClaimedJob,
    context: JobContext,
    reader: _Reader,
    contexts: ContextFactory,
    resource_type: str,
    page_size: int,
) -> None:
    """End what the source deleted, when its count says something is gone."""
    source = reader.source
    assert job.patient_id is not None
    with transaction(context.engine, write=False) as conn:
        ctx = contexts(conn)
        known = Merger(ctx, source, job.patient_id, context.clock()).known_ids(resource_type)
    if not known:
        return
    base_ids = {value.split("#", 1)[0] for value in known}
    counted = reader.get(f"{source.endpoint}/{resource_type}", {"_summary": "count"})
    total = counted.get("total")
    if isinstance(total, int) and total >= len(base_ids):
        return
    present: set[str] = set()
    url: str | None = f"{source.endpoint}/{resource_type}"
    query: dict[str, str] | None = {"_elements": "id", "_count": str(max(page_size, 500))}
    links = 0
    while url is not None and links < _MAX_LINKS:
        bundle = reader.get(url, query)
        for entry in bundle.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and isinstance(resource.get("id"), str):
                present.add(resource["id"])
        following = reader.next_link(bundle)
        url, query, links = (None if following == url else following), None, links + 1
    _merge_page(
        job,
        context,
        contexts,
        source,
        resource_type,
        _Page(),
        lambda m: m.end_deleted(resource_type, present),
    )

"""Merge what a provider's EHR holds into the client's zorgleefplan.

Pulled resources go through the FHIR engine's write path with the rules the caller
plugs into the ``Context`` (the zorgleefplan's rules): nothing is stored that a
client could not have stored through the API. The merge rules:

- **Identity.** Each merged resource carries the source identifier
  ``{SOURCE_SYSTEM_BASE}{provider}|{the provider's id}``; ``sync_pulled`` keeps which of
  our resources holds it, so a resource pulled again updates the same one. A provider
  CarePlan with several activities becomes one agreement per activity (the second gets
  the value ``{id}#2``, and so on): an agreement describes one activity. When the
  CarePlan later drops an activity, the agreement made from it is ended as one
  deleted at the source (which activity is which: ``activities``).
- **References.** Every reference to a Patient becomes the client (the provider's
  token identified them), also one that only names a Patient (``type`` with a display
  or identifier, as our pushes do when the provider's Patient id is not known) and a
  Goal's or CareTeam's subject given by display only; the provider's Patient id is
  recorded (``sync_pulled``, type Patient) for pushes to name the client there.
  References to a CarePlan, Goal, CareTeam or Task pulled from the same provider
  become our ids; Practitioner, PractitionerRole, RelatedPerson and
  Organization become local resources found by (or created with) the same source
  identifier and the display name the provider gave; anything else keeps only its
  display text (we hold no copy to point at).
- **Agreements.** A provider CarePlan becomes an agreement: ``partOf`` the client's
  active zorgleefplan, category ``afspraak`` and one life domain: the provider's when it
  names one of ours, else the one the agreement already has (the client may have
  filed it), else ``lichamelijk-welbevinden``.
- **The client's own annotations stay.** Notes and progress entries copied from the
  source are marked with the extension ``SOURCE_ANNOTATION_URL``; on every merge those
  are replaced by the source's current ones, and every unmarked one (the client's or a
  carer's, added here) is kept after them. Other elements follow the source whenever it
  changes; a change made here to them lasts until the source changes the resource.
- **Versions.** A resource whose source version was merged before is not looked at
  again; a changed source version whose merge gives exactly what is stored writes
  nothing. Every version that is written gets a Provenance naming the provider, the
  data service, the source's id and version, and when it was fetched.
- **Our own pushes.** A source version that our push wrote (``sync_remote_version``)
  is not merged back; a resource we pushed there that the provider then changed is
  merged into ours, not added as a copy.
- **One resource at a time.** Each provider resource is merged in a savepoint of its
  own: one a rule refuses is rolled back and handed back to be set aside
  (``quarantine``), and the rest of its page is kept.
- **Deleted at the source.** Never dropped: an agreement becomes ``revoked`` (its
  activity ``cancelled``), a Goal ``cancelled``, a CareTeam ``inactive``, a Task
  ``cancelled``, each with a note saying so; it comes back if the source has it again.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import ColumnElement, Connection, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..db.sync_tables import sync_pulled, sync_remote_version
from ..fhir.errors import FhirError
from ..fhir.interactions.context import Change, Context
from ..fhir.jsonio import parse_json
from ..fhir.search.execute import find_matches
from ..fhir.store import StoredVersion
from ..fhir.validation import check_resource
from .activities import assign_values, position_of
from .ending import DELETED, DROPPED_ACTIVITY, ended_body, ending_text
from .quarantine import Rejected
from .registry import PROVIDER_NAME_SYSTEM

# A Context bound to a transaction, with the rules every write must pass.
ContextFactory = Callable[[Connection], Context]

BASE = "https://pgo-service.nl/fhir"
SOURCE_SYSTEM_BASE = f"{BASE}/NamingSystem/bron/"
SOURCE_ANNOTATION_URL = f"{BASE}/StructureDefinition/bron-annotatie"
# The zorgleefplan's codes (careplan.codes; the sync may not import careplan, a test
# keeps the two equal).
CATEGORY_SYSTEM = f"{BASE}/CodeSystem/zorgleefplan-categorie"
DOMAIN_SYSTEM = f"{BASE}/CodeSystem/levensdomein"
ZORGLEEFPLAN = "zorgleefplan"
AGREEMENT = "afspraak"
DEFAULT_DOMAIN = ("lichamelijk-welbevinden", "Lichamelijk welbevinden en gezondheid")

PULLED_TYPES = ("Goal", "CareTeam", "CarePlan", "Task")  # in the order they are merged
_DIRECTORY_TYPES = ("Practitioner", "PractitionerRole", "RelatedPerson", "Organization")
_ID = r"[A-Za-z0-9\-.]{1,64}"
_REFERENCE = re.compile(
    rf"^(?:(?P<base>.+)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>{_ID})(?:/_history/.*)?$"
)
_DETAIL_STATUS = {
    "draft": "not-started",
    "active": "in-progress",
    "on-hold": "on-hold",
    "revoked": "cancelled",
    "completed": "completed",
    "entered-in-error": "entered-in-error",
}
_DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
_NAMED = {"display", "identifier"}


def source_system(provider_name: str) -> str:
    return SOURCE_SYSTEM_BASE + quote(provider_name, safe="@.-_~")


@dataclass(frozen=True)
class Source:
    provider_name: str
    service_id: str
    endpoint: str  # the data service's FHIR base, without a trailing slash
    fhir_version: str


@dataclass
class MergeCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ended: int = 0

    def add(self, other: MergeCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.ended += other.ended


class MergeError(Exception):
    """The page cannot be merged at all (the client has no plan); nothing of it is kept."""


class ResourceRefused(MergeError):
    """One provider resource cannot be merged (a rule refused it): it is set aside."""


def _instant(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _strip(content: bytes | None) -> dict[str, Any] | None:
    if content is None:
        return None
    body: dict[str, Any] = parse_json(content)
    return {k: v for k, v in body.items() if k not in ("resourceType", "id", "meta")}


def _tagged(annotation: Any) -> bool:
    return isinstance(annotation, dict) and any(
        isinstance(e, dict) and e.get("url") == SOURCE_ANNOTATION_URL
        for e in annotation.get("extension") or []
    )


@dataclass
class Merger:
    """Merges pages of one client's resources from one data service, in the caller's
    transaction (``ctx``)."""

    ctx: Context
    source: Source
    patient_id: str
    fetched_at: datetime
    counts: MergeCounts = field(default_factory=MergeCounts)
    _ours: dict[tuple[str, str], str] = field(default_factory=dict)
    _plan: str | None = None

    @property
    def conn(self) -> Connection:
        return self.ctx.store.conn

    @property
    def system(self) -> str:
        return source_system(self.source.provider_name)

    # -- the mapping of source ids to ours ---------------------------------------

    def _rows(
        self, resource_type: str, values: Iterable[str], *, splits: bool = False
    ) -> dict[str, Any]:
        """``sync_pulled`` rows by source value; with ``splits`` also every ``{value}#n``
        (the agreements split off a CarePlan), found as key ranges."""
        wanted = sorted(set(values))
        if not wanted:
            return {}
        value = sync_pulled.c.source_value
        among: ColumnElement[bool] = value.in_(wanted)
        if splits:  # "#" < "$": {value}#… sorts strictly between these two
            among = or_(among, *(and_(value > f"{v}#", value < f"{v}$") for v in wanted))
        rows = self.conn.execute(
            select(sync_pulled).where(
                sync_pulled.c.patient_id == self.patient_id,
                sync_pulled.c.provider_name == self.source.provider_name,
                sync_pulled.c.resource_type == resource_type,
                among,
            )
        ).all()
        return {row.source_value: row for row in rows}

    def _remember(
        self, resource_type: str, value: str, resource_id: str, version: str | None, ended: bool
    ) -> None:
        values = {
            "patient_id": self.patient_id,
            "provider_name": self.source.provider_name,
            "resource_type": resource_type,
            "source_value": value,
            "service_id": self.source.service_id,
            "resource_id": resource_id,
            "source_version": version,
            "ended": ended,
            "updated_at": self.fetched_at.replace(tzinfo=None),
        }
        key = ("patient_id", "provider_name", "resource_type", "source_value")
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        self.conn.execute(
            dialect.insert(sync_pulled)
            .values(**values)
            .on_conflict_do_update(
                index_elements=[sync_pulled.c[k] for k in key],
                set_={k: v for k, v in values.items() if k not in key},
            )
        )
        self._ours[(resource_type, value)] = resource_id

    def _our_id(self, resource_type: str, value: str) -> str | None:
        key = (resource_type, value)
        if key not in self._ours:
            row = self._rows(resource_type, [value]).get(value)
            if row is None:
                return None
            self._ours[key] = row.resource_id
        return self._ours[key]

    # -- references ----------------------------------------------------------------

    def _parse(self, reference: str) -> tuple[str, str] | None:
        match = _REFERENCE.match(reference)
        if match is None:
            return None
        base = match.group("base")
        if base is not None and base.rstrip("/") != self.source.endpoint:
            return None  # another server's resource
        return match.group("type"), match.group("id")

    def _translate(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._translate(item) for item in value]
        if not isinstance(value, dict):
            return value
        result = {k: self._translate(v) for k, v in value.items()}
        reference = value.get("reference")
        if isinstance(reference, str) and not reference.startswith("#"):
            result.update(self._reference(reference, value))
            if result.get("reference") is None:
                result.pop("reference", None)
        elif reference is None and value.get("type") == "Patient" and value.keys() & _NAMED:
            # a Patient named without a reference (as our pushes name the client)
            result = {k: v for k, v in result.items() if k not in ("type", "identifier")}
            result["reference"] = f"Patient/{self.patient_id}"
        return result

    def _reference(self, reference: str, original: dict[str, Any]) -> dict[str, Any]:
        parsed = self._parse(reference)
        display = original.get("display")
        if parsed is not None:
            kind, remote_id = parsed
            if kind == "Patient":
                self._remember_patient(remote_id)
                return {"reference": f"Patient/{self.patient_id}"}
            if kind in PULLED_TYPES:
                ours = self._our_id(kind, remote_id)
                if ours is not None:
                    return {"reference": f"{kind}/{ours}"}
            elif kind in _DIRECTORY_TYPES:
                return {"reference": f"{kind}/{self._directory(kind, remote_id, display)}"}
            label = display or f"{kind} in het EPD van {self.source.provider_name}"
            return {"reference": None, "display": label}
        return {"reference": None, "display": display or reference}

    def _remember_patient(self, remote_id: str) -> None:
        """The provider's Patient for the client, so a push can name it there."""
        if ("Patient", remote_id) not in self._ours:
            self._remember("Patient", remote_id, self.patient_id, None, False)

    def _directory(self, kind: str, remote_id: str, display: Any) -> str:
        """Our Practitioner/PractitionerRole/RelatedPerson/Organization for the provider's."""
        key = (kind, f"dir:{remote_id}")
        if key in self._ours:
            return self._ours[key]
        identifier = {"system": self.system, "value": f"{kind}/{remote_id}"}
        found = find_matches(
            self.conn, kind, [("identifier", f"{identifier['system']}|{identifier['value']}")]
        )
        name = display if isinstance(display, str) and display else None
        if found:
            self._ours[key] = found[0].id
            if name is not None:  # first seen without a name: give it the one now known
                self._name_directory_entry(kind, found[0].id, name, remote_id)
            return found[0].id
        body: dict[str, Any] = {"resourceType": kind, "identifier": [identifier]}
        if kind == "Organization":
            body["name"] = name or f"Organisatie in het EPD van {self.source.provider_name}"
        elif kind in ("Practitioner", "RelatedPerson") and name:
            body["name"] = [{"text": name}]
        if kind == "RelatedPerson":
            body["patient"] = {"reference": f"Patient/{self.patient_id}"}
        stored = self._write(kind, body, None, "create", remote_id)
        self._ours[key] = stored.id
        return stored.id

    def _name_directory_entry(self, kind: str, resource_id: str, name: str, remote_id: str) -> None:
        if kind not in ("Practitioner", "RelatedPerson"):
            return
        current = self.ctx.store.read(kind, resource_id)
        body = _strip(current.content) if current is not None and not current.deleted else None
        if current is None or body is None or body.get("name"):
            return
        self._write(kind, {**body, "name": [{"text": name}]}, current, "name", remote_id)

    # -- writing -------------------------------------------------------------------

    def _write(
        self,
        resource_type: str,
        body: dict[str, Any],
        current: StoredVersion | None,
        what: str,
        remote_id: str,
    ) -> StoredVersion:
        resource_id = current.id if current is not None else self.ctx.store.new_id()
        method = "PUT" if current is not None else "POST"
        document = {"resourceType": resource_type, **body}
        try:
            check_resource(document, resource_type)
            self.ctx.check(Change(resource_type, resource_id, method, body, current))
        except FhirError as error:
            raise ResourceRefused(
                f"{resource_type}/{remote_id} of {self.source.provider_name} cannot be merged: "
                f"{error.message}"
            ) from error
        return self.ctx.store.write(resource_type, resource_id, body, current, method=method)

    def _provenance(
        self, stored: StoredVersion, remote_id: str, remote_version: str | None, operation: str
    ) -> None:
        provider, service = self.source.provider_name, self.source.service_id
        text = {
            "CREATE": "Overgenomen uit",
            "UPDATE": "Bijgewerkt vanuit",
            "DELETE": "Beëindigd: verwijderd in",
        }[operation]
        entity = f"{stored.resource_type}/{remote_id}"
        body = {
            "resourceType": "Provenance",
            "target": [
                {"reference": f"{stored.reference}/_history/{stored.version_id}"},
                {"reference": f"Patient/{self.patient_id}"},
            ],
            "occurredDateTime": _instant(self.fetched_at),
            "recorded": _instant(self.fetched_at),
            "activity": {
                "coding": [{"system": _DATA_OPERATION, "code": operation}],
                "text": f"{text} het EPD van {provider} (gegevensdienst {service})",
            },
            "agent": [
                {
                    "type": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                "code": "author",
                            }
                        ]
                    },
                    "who": {
                        "identifier": {"system": PROVIDER_NAME_SYSTEM, "value": provider},
                        "display": provider,
                    },
                }
            ],
            "entity": [
                {
                    "role": "source",
                    "what": {
                        "identifier": {"system": self.system, "value": remote_id},
                        "display": (
                            f"{entity} versie {remote_version}, gegevensdienst {service}"
                            if remote_version
                            else f"{entity}, gegevensdienst {service}"
                        ),
                    },
                }
            ],
        }
        self.ctx.store.write("Provenance", self.ctx.store.new_id(), body, None, method="POST")

    # -- composing our version -------------------------------------------------------

    def _active_plan(self) -> str:
        if self._plan is None:
            found = find_matches(
                self.conn,
                "CarePlan",
                [
                    ("subject", f"Patient/{self.patient_id}"),
                    ("category", f"{CATEGORY_SYSTEM}|{ZORGLEEFPLAN}"),
                    ("status", "active"),
                ],
                limit=1,
            )
            if not found:
                raise MergeError(
                    "the client has no active zorgleefplan to add the provider's agreements to"
                )
            self._plan = found[0].id
        return self._plan

    def _annotations(self, source: list[Any], current: list[Any] | None) -> list[Any]:
        marked = []
        for annotation in source:
            if isinstance(annotation, dict) and not _tagged(annotation):
                extension = {"url": SOURCE_ANNOTATION_URL, "valueString": self.source.provider_name}
                annotation = {
                    **annotation,
                    "extension": [*annotation.get("extension", []), extension],
                }
            marked.append(annotation)
        own = [a for a in current or [] if not _tagged(a)]
        return marked + own

    def _with_notes(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        notes = self._annotations(body.get("note") or [], (current or {}).get("note"))
        if notes:
            body["note"] = notes
        else:
            body.pop("note", None)
        return body

    def _identifiers(self, source: dict[str, Any], value: str) -> list[dict[str, Any]]:
        own = {"system": self.system, "value": value}
        return [own] + [
            i
            for i in source.get("identifier") or []
            if isinstance(i, dict) and i.get("system") != self.system
        ]

    def _agreements(
        self, translated: dict[str, Any], remote_id: str, rows: dict[str, Any]
    ) -> list[tuple[str, dict[str, Any]]]:
        """One agreement per activity, each with its source value (``activities``)."""
        given = [a for a in translated.get("activity") or [] if isinstance(a, dict)] or [{}]
        activities = [self._activity(activity, translated) for activity in given]
        mine = {
            value: row for value, row in rows.items() if position_of(remote_id, value) is not None
        }
        live = {value: row for value, row in mine.items() if not row.ended}
        held: dict[str, dict[str, Any] | None] = dict.fromkeys(live)
        if live and len(live) != len(activities):
            stored = self.ctx.store.read_many(("CarePlan", r.resource_id) for r in live.values())
            for value, row in live.items():
                found = stored.get(("CarePlan", row.resource_id))
                body = _strip(found.content) if found is not None else None
                held[value] = ((body or {}).get("activity") or [None])[0]
        values = assign_values(remote_id, activities, held, sorted(mine))
        result = []
        for value, activity in zip(values, activities, strict=True):
            body = {k: v for k, v in translated.items() if k not in ("id", "meta", "partOf")}
            body["identifier"] = self._identifiers(translated, value)
            body["subject"] = {"reference": f"Patient/{self.patient_id}"}
            body["activity"] = [activity]
            result.append((value, body))
        return result

    def _activity(self, activity: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
        activity = dict(activity)
        detail = dict(activity.get("detail") or {})
        if not detail:
            detail["status"] = _DETAIL_STATUS.get(plan.get("status", ""), "unknown")
            text = plan.get("description") or plan.get("title")
            if text:
                detail["description"] = text
        if not detail.get("performer"):
            author = plan.get("author")
            if isinstance(author, dict) and author.get("reference"):
                detail["performer"] = [author]
        activity["detail"] = detail
        return activity

    def _compose(
        self, resource_type: str, body: dict[str, Any], current: dict[str, Any] | None
    ) -> dict[str, Any]:
        body = self._with_notes(copy.deepcopy(body), current)
        if resource_type != "CarePlan":
            return body
        body["partOf"] = [{"reference": f"CarePlan/{self._active_plan()}"}]
        source_domains = [
            c for c in _codings(body.get("category")) if c.get("system") == DOMAIN_SYSTEM
        ]
        current_domains = [
            c for c in _codings((current or {}).get("category")) if c.get("system") == DOMAIN_SYSTEM
        ]
        if len(source_domains) == 1:
            domain = source_domains[0]
        elif current_domains:
            domain = current_domains[0]
        else:
            domain = {
                "system": DOMAIN_SYSTEM,
                "code": DEFAULT_DOMAIN[0],
                "display": DEFAULT_DOMAIN[1],
            }
        others = [
            c
            for c in body.get("category") or []
            if not any(x.get("system") in (DOMAIN_SYSTEM, CATEGORY_SYSTEM) for x in _codings(c))
        ]
        body["category"] = [
            {
                "coding": [
                    {
                        "system": CATEGORY_SYSTEM,
                        "code": AGREEMENT,
                        "display": "Afspraak in het zorgleefplan",
                    }
                ]
            },
            {"coding": [domain]},
            *others,
        ]
        activity = body["activity"][0]
        current_activity = ((current or {}).get("activity") or [{}])[0]
        progress = self._annotations(
            activity.get("progress") or [], current_activity.get("progress")
        )
        if progress:
            activity["progress"] = progress
        else:
            activity.pop("progress", None)
        return body

    # -- the page ----------------------------------------------------------------------

    def merge(self, resource_type: str, resources: list[dict[str, Any]]) -> list[Rejected]:
        """Merge one page of the provider's resources of one type. Each resource is
        merged in a savepoint of its own: one that a rule refuses is rolled back and
        returned (to be set aside), and the others are kept."""
        ids = [str(r["id"]) for r in resources]
        rows = self._rows(resource_type, ids, splits=resource_type == "CarePlan")
        pushed = self._pushed(resource_type, ids)
        rejected = []
        for resource in resources:
            remote_id = str(resource["id"])
            version = source_version(resource)
            if self._unchanged(resource_type, remote_id, version, rows, pushed):
                continue
            savepoint = self.conn.begin_nested()
            ours, counts = dict(self._ours), copy.copy(self.counts)
            try:
                self._merge_resource(resource_type, resource, version, rows, pushed)
                self.ctx.run_deferred()
                savepoint.commit()
            except (ResourceRefused, FhirError) as error:
                self.ctx.deferred.clear()
                savepoint.rollback()
                self._ours, self.counts = ours, counts
                reason = error.message if isinstance(error, FhirError) else str(error)
                rejected.append(Rejected(remote_id, version, reason))
        return rejected

    def _unchanged(
        self,
        resource_type: str,
        remote_id: str,
        version: str | None,
        rows: dict[str, Any],
        pushed: dict[str, Any],
    ) -> bool:
        """Whether this source version was merged before, or is our own push's."""
        if version is not None:
            mine = [rows.get(remote_id)]
            if resource_type == "CarePlan":
                mine = [r for v, r in rows.items() if position_of(remote_id, v) is not None]
            if any(r is not None and not r.ended and r.source_version == version for r in mine):
                self.counts.unchanged += 1
                return True
        ours = pushed.get(remote_id)
        if ours is not None and version and ours.etag == f'W/"{version}"':
            # what our own push wrote there: nothing new to merge
            self._remember(resource_type, remote_id, ours.resource_id, version, False)
            self.counts.unchanged += 1
            return True
        return False

    def _merge_resource(
        self,
        resource_type: str,
        resource: dict[str, Any],
        version: str | None,
        rows: dict[str, Any],
        pushed: dict[str, Any],
    ) -> None:
        remote_id = str(resource["id"])
        translated = self._translate(
            {k: v for k, v in resource.items() if k not in ("id", "meta", "resourceType")}
        )
        if resource_type == "CarePlan":
            pieces = self._agreements(translated, remote_id, rows)
        else:
            translated["identifier"] = self._identifiers(translated, remote_id)
            subject = translated.get("subject")
            if isinstance(subject, dict) and not subject.get("reference"):
                # named only (as our pushes name the client): the token's record is the client's
                translated["subject"] = {"reference": f"Patient/{self.patient_id}"}
            pieces = [(remote_id, translated)]
        for value, body in pieces:
            row = rows.get(value)
            resource_id = row.resource_id if row is not None else None
            if resource_id is None and value == remote_id and remote_id in pushed:
                resource_id = pushed[remote_id].resource_id  # ours, pushed there and changed
            self._merge_one(resource_type, remote_id, value, version, body, resource_id)
        if resource_type == "CarePlan":
            kept = {value for value, _ in pieces}
            for value, row in sorted(rows.items()):
                mine = position_of(remote_id, value) is not None
                if mine and value not in kept and not row.ended:  # the activity was dropped
                    self._end(resource_type, value, row.resource_id, DROPPED_ACTIVITY)

    def _pushed(self, resource_type: str, remote_ids: list[str]) -> dict[str, Any]:
        """Of these provider ids, those our pushes created or updated there."""
        v = sync_remote_version.c
        rows = self.conn.execute(
            select(v.remote_id, v.resource_id, v.etag).where(
                v.provider_name == self.source.provider_name,
                v.service_id == self.source.service_id,
                v.resource_type == resource_type,
                v.remote_id.in_(sorted(set(remote_ids))),
            )
        ).all()
        return {row.remote_id: row for row in rows}

    def _merge_one(
        self,
        resource_type: str,
        remote_id: str,
        value: str,
        version: str | None,
        body: dict[str, Any],
        resource_id: str | None,
    ) -> None:
        current = None
        if resource_id is not None:
            self.ctx.store.lock(f"{resource_type}/{resource_id}")
            current = self.ctx.store.read(resource_type, resource_id)
            if current is not None and current.deleted:
                current = None  # deleted here: the source's version comes back as new
        stored_body = _strip(current.content) if current is not None else None
        merged = self._compose(resource_type, body, stored_body)
        if current is not None and stored_body == merged:
            self.counts.unchanged += 1
            self._remember(resource_type, value, current.id, version, False)
            return
        stored = self._write(
            resource_type, merged, current, "update" if current else "create", remote_id
        )
        self._provenance(stored, remote_id, version, "UPDATE" if current else "CREATE")
        self._remember(resource_type, value, stored.id, version, False)
        if current is None:
            self.counts.created += 1
        else:
            self.counts.updated += 1

    # -- deletions at the source ---------------------------------------------------------

    def known_ids(self, resource_type: str) -> dict[str, str]:
        """Source value → our id of what is merged and not ended, for this data service."""
        rows = self.conn.execute(
            select(sync_pulled.c.source_value, sync_pulled.c.resource_id).where(
                sync_pulled.c.patient_id == self.patient_id,
                sync_pulled.c.provider_name == self.source.provider_name,
                sync_pulled.c.service_id == self.source.service_id,
                sync_pulled.c.resource_type == resource_type,
                sync_pulled.c.ended.is_(False),
            )
        )
        return {row.source_value: row.resource_id for row in rows}

    def end_deleted(self, resource_type: str, present: set[str]) -> None:
        """End what the source no longer has (``present``: the source's ids now)."""
        for value, resource_id in sorted(self.known_ids(resource_type).items()):
            if value.split("#", 1)[0] not in present:
                self._end(resource_type, value, resource_id, DELETED)

    def _end(self, resource_type: str, value: str, resource_id: str, why: str) -> None:
        """End our resource for this source value (it stays, with a note saying why)."""
        self.ctx.store.lock(f"{resource_type}/{resource_id}")
        current = self.ctx.store.read(resource_type, resource_id)
        body = _strip(current.content) if current is not None and not current.deleted else None
        if current is not None and body is not None:
            ended = ended_body(resource_type, body, self._ending_note(why))
            stored = self._write(resource_type, ended, current, "end", value)
            self._provenance(stored, value, None, "DELETE")
            self.counts.ended += 1
        self._mark_ended(resource_type, value)

    def _ending_note(self, why: str) -> dict[str, Any]:
        provider = self.source.provider_name
        day = self.fetched_at.date().isoformat()
        return {
            "time": _instant(self.fetched_at),
            "authorString": provider,
            "text": ending_text(why, provider, self.source.service_id, day),
            "extension": [{"url": SOURCE_ANNOTATION_URL, "valueString": provider}],
        }

    def _mark_ended(self, resource_type: str, value: str) -> None:
        self.conn.execute(
            update(sync_pulled)
            .where(
                sync_pulled.c.patient_id == self.patient_id,
                sync_pulled.c.provider_name == self.source.provider_name,
                sync_pulled.c.resource_type == resource_type,
                sync_pulled.c.source_value == value,
            )
            .values(
                ended=True, source_version=None, updated_at=self.fetched_at.replace(tzinfo=None)
            )
        )


def _codings(concepts: Any) -> list[dict[str, Any]]:
    items = concepts if isinstance(concepts, list) else [concepts]
    return [
        c
        for item in items
        if isinstance(item, dict)
        for c in item.get("coding") or []
        if isinstance(c, dict)
    ]


def source_version(resource: dict[str, Any]) -> str | None:
    """The provider's version of a resource: its versionId, else when it changed."""
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        return None
    for key in ("versionId", "lastUpdated"):
        value = meta.get(key)
        if isinstance(value, str) and value:
            return value if key == "versionId" else f"at {value}"
    return None

"""$zorgleefplan: the whole plan in one Bundle, in a bounded number of queries.

Query plan: the plan (1), its agreements (1), goals + conditions + network (1),
everyone named in them (1), the organisations and practitioners behind roles (1),
complaints and their handling (2). No query depends on the number of agreements.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from ..fhir.bundles import bundle, resource_entry
from ..fhir.errors import Category, FhirError
from ..fhir.exchange import FhirRequest, FhirResponse
from ..fhir.interactions.context import Context, OperationCall
from ..fhir.interactions.read import require_current
from ..fhir.jsonio import dump_json, raw
from ..fhir.search.execute import Found, find_matches
from ..fhir.search.fhirpath import parse_reference
from ..fhir.store import StoredVersion, utc_now
from . import codes
from .classify import extension_value, has_role, is_zorgleefplan, reference_of
from .lookup import active_plan, content_of
from .parameters import output
from .periods import is_active

DEFINITION = f"{codes.BASE}/OperationDefinition/zorgleefplan"
_MAX_ITEMS = 1000
_CLOSED_TASK = ("completed", "cancelled", "rejected", "failed")
_Key = tuple[str, str]


def zorgleefplan(ctx: Context, request: FhirRequest, call: OperationCall) -> FhirResponse:
    assert call.resource_id is not None
    if call.resource_type == "Patient":
        require_current(ctx, "Patient", call.resource_id)
        found = active_plan(ctx, call.resource_id)
        if found is None:
            raise FhirError(
                Category.NOT_FOUND, f"Patient/{call.resource_id} has no active zorgleefplan"
            )
        ctx.require_visible(found)
        plan_version: Found | StoredVersion = found
    else:
        plan_version = require_current(ctx, "CarePlan", call.resource_id)
    plan = content_of(plan_version)
    if not is_zorgleefplan("CarePlan", plan):
        raise FhirError(Category.NOT_FOUND, f"CarePlan/{call.resource_id} is not a zorgleefplan")
    return FhirResponse(200, _PlanView(ctx, request, plan_version, plan).render())


class _PlanView:
    def __init__(
        self,
        ctx: Context,
        request: FhirRequest,
        plan_version: Found | StoredVersion,
        plan: dict[str, Any],
    ) -> None:
        self.ctx = ctx
        self.request = request
        self.plan = plan
        self.plan_key: _Key = ("CarePlan", plan["id"])
        self.patient = (reference_of(plan.get("subject")) or "/").split("/", 1)[1]
        self.entries: dict[_Key, bytes] = {}
        assert plan_version.content is not None
        self.entries[self.plan_key] = plan_version.content

    def _add(self, versions: Iterable[Found | StoredVersion]) -> list[dict[str, Any]]:
        documents = []
        for version in versions:
            if version.content is None or not self.ctx.is_visible(version):
                continue
            self.ctx.show(f"{version.resource_type}/{version.id}", version.patient_id)
            self.entries[(version.resource_type, version.id)] = version.content
            documents.append(content_of(version))
        return documents

    def _search(self, resource_type: str, params: list[tuple[str, str]]) -> list[Found]:
        return find_matches(
            self.ctx.store.conn, resource_type, params, limit=_MAX_ITEMS, visible=self.ctx.visible
        )

    def render(self) -> bytes:
        agreements = self._add(
            self._search("CarePlan", [("part-of", f"CarePlan/{self.plan['id']}")])
        )
        linked = _keys(
            [self.plan.get("goal"), self.plan.get("addresses"), self.plan.get("careTeam")]
            + [a.get("goal") for a in agreements]
        )
        documents = self._add(self.ctx.store.read_many(linked).values())
        teams = [d for d in documents if d["resourceType"] == "CareTeam"]
        members = _keys(
            [p.get("member") for t in teams for p in t.get("participant") or []]
            + [a.get("author") for a in agreements]
            + [
                p
                for a in agreements
                for act in a.get("activity") or []
                for p in (act.get("detail") or {}).get("performer") or []
            ]
        )
        people = self._add(self.ctx.store.read_many(members).values())
        behind_roles = _keys(
            [
                r.get(k)
                for r in people
                if r["resourceType"] == "PractitionerRole"
                for k in ("practitioner", "organization")
            ]
        )
        self._add(self.ctx.store.read_many(behind_roles).values())
        open_complaints = self._complaints()
        summary = self._summary(teams, open_complaints)
        return self._bundle(summary)

    def _complaints(self) -> int:
        complaints = self._search(
            "Communication",
            [
                ("subject", f"Patient/{self.patient}"),
                ("category", f"{codes.CATEGORY_SYSTEM}|{codes.COMPLAINT}"),
            ],
        )
        handling = self._search(
            "Task",
            [
                ("patient", f"Patient/{self.patient}"),
                ("code", f"{codes.CATEGORY_SYSTEM}|{codes.COMPLAINT_HANDLING}"),
            ],
        )
        tasks = [content_of(t) for t in handling]
        closed = {reference_of(t.get("focus")) for t in tasks if t.get("status") in _CLOSED_TASK}
        open_ones = [c for c in complaints if f"Communication/{c.id}" not in closed]
        self._add(open_ones)
        self._add(t for t in handling if content_of(t).get("status") not in _CLOSED_TASK)
        return len(open_ones)

    def _summary(self, teams: list[dict[str, Any]], open_complaints: int) -> dict[str, Any]:
        now = utc_now()
        current = [
            p for t in teams for p in t.get("participant") or [] if is_active(p.get("period"), now)
        ]
        regie = next(
            (
                p["member"]
                for p in current
                if has_role(p, codes.ROLE_SYSTEM, codes.REGIEBEHANDELAAR) and p.get("member")
            ),
            None,
        )
        representatives = [
            (
                "gevolmachtigde"
                if has_role(p, codes.ROLE_SYSTEM, codes.GEVOLMACHTIGDE)
                else "wettelijk-vertegenwoordiger",
                "Reference",
                p.get("member"),
            )
            for p in current
            if set(codes.codings(p.get("role"))) & codes.REPRESENTATIVE_ROLES
        ]
        next_evaluation = extension_value(self.plan, codes.NEXT_EVALUATION_URL)
        return output(
            ("plan", "Reference", {"reference": f"CarePlan/{self.plan['id']}"}),
            ("evaluation-status", "Code", _evaluation_status(next_evaluation, now.date())),
            ("last-evaluation", "Date", extension_value(self.plan, codes.LAST_EVALUATION_URL)),
            ("next-evaluation", "Date", next_evaluation),
            (
                "power-of-attorney",
                "Boolean",
                extension_value(self.plan, codes.POWER_OF_ATTORNEY_URL),
            ),
            ("regiebehandelaar", "Reference", regie),
            *representatives,
            ("open-complaints", "Integer", open_complaints),
        )

    def _bundle(self, summary: dict[str, Any]) -> bytes:
        base = self.request.base_url
        entries: list[dict[str, Any]] = [{"resource": _raw(summary)}]
        entries += [
            resource_entry(f"{base}/{kind}/{rid}", content)
            for (kind, rid), content in self.entries.items()
        ]
        return bundle("collection", entries)


def _raw(document: dict[str, Any]) -> Any:
    return raw(dump_json(document))


def _evaluation_status(next_evaluation: Any, today: date) -> str:
    if not isinstance(next_evaluation, str):
        return "missing"
    return "overdue" if next_evaluation[:10] < today.isoformat() else "on-schedule"


def _keys(values: list[Any]) -> list[_Key]:
    keys: list[_Key] = []
    for value in values:
        items = value if isinstance(value, list) else [value]
        for item in items:
            reference = reference_of(item)
            parsed = parse_reference(reference) if reference and "://" not in reference else None
            if parsed:
                keys.append(parsed)
    return keys

"""$regiebehandelaar: designate (or hand over to) a regiebehandelaar in one transaction.

The current regiebehandelaar's participation ends when the new one's begins; both
changes are one new version of the client's network, so there is never a moment with
two regiebehandelaars or with a gap the client did not choose.
"""

from __future__ import annotations

from typing import Any

from ..fhir.errors import Category, FhirError
from ..fhir.exchange import FhirRequest, FhirResponse
from ..fhir.interactions.context import Context, OperationCall
from ..fhir.interactions.read import require_current
from ..fhir.search.normalize import date_range
from ..fhir.store import format_instant, utc_now
from . import codes
from .classify import has_role
from .lookup import active_network, content_of
from .parameters import parameters, single
from .periods import bounds
from .writes import store_resource

DEFINITION = f"{codes.BASE}/OperationDefinition/regiebehandelaar"


def handover(ctx: Context, request: FhirRequest, call: OperationCall) -> FhirResponse:
    assert call.resource_id is not None
    patient = call.resource_id
    require_current(ctx, "Patient", patient)
    params = parameters(request.body)
    member = single(params, "member", "Reference", required=True)
    start = single(params, "start", "DateTime", required=False) or format_instant(utc_now())
    end = single(params, "end", "DateTime", required=False)
    _check_instant(start, "start")
    if end is not None:
        _check_instant(end, "end")
    ctx.store.lock(f"network:{patient}")
    found = active_network(ctx, patient)
    if found is None:
        raise FhirError(
            Category.UNPROCESSABLE,
            "Deze cliënt heeft nog geen actief persoonlijk netwerk (CareTeam); leg dat eerst vast.",
        )
    current = ctx.store.read("CareTeam", found.id)
    assert current is not None
    team = content_of(current)
    team["participant"] = _handed_over(team.get("participant") or [], member, start, end)
    stored = store_resource(ctx, "CareTeam", team, current)
    return FhirResponse(200, stored.content, etag=stored.etag, last_modified=stored.last_updated)


def _check_instant(value: Any, name: str) -> None:
    try:
        date_range(str(value))
    except ValueError as error:
        raise FhirError(Category.INVALID, f"{name} is not a dateTime", expression=[name]) from error


def _handed_over(
    participants: list[dict[str, Any]], member: Any, start: str, end: str | None
) -> list[dict[str, Any]]:
    begin = date_range(start)[0]
    result = []
    for participant in participants:
        if has_role(participant, codes.ROLE_SYSTEM, codes.REGIEBEHANDELAAR):
            period = dict(participant.get("period") or {})
            if bounds(period)[0] >= begin:
                raise FhirError(
                    Category.UNPROCESSABLE,
                    "Er is al een regiebehandelaar vanaf dit moment of later gepland; "
                    "kies een later begin of pas het netwerk aan.",
                )
            if bounds(period)[1] >= begin:
                period["end"] = start
                participant = {**participant, "period": period}
        result.append(participant)
    new_period = {"start": start, **({"end": end} if end else {})}
    result.append(
        {"role": [codes.role(codes.REGIEBEHANDELAAR)], "member": member, "period": new_period}
    )
    return result

"""A requester's decisions as one SQL condition over the rows of a resource table."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import ColumnElement, FromClause, and_, exists, false, not_, or_, select, true

from ..db.models import search_reference
from .decision import Exception_, PatientRule, TypeRule
from .provisions import DataRef

# Outside every client's compartment, yet not for everyone: the audit trail of the
# directory and of operators' tools is for operators (system tokens) only.
NEVER_PUBLIC = frozenset({"AuditEvent"})


def visible_rows(
    table: FromClause,
    owned: frozenset[str],
    patients: Mapping[str, PatientRule],
) -> ColumnElement[bool]:
    c = table.c
    terms: list[ColumnElement[bool]] = [
        and_(c.patient_id.is_(None), c.resource_type.not_in(sorted(NEVER_PUBLIC)))
    ]
    if owned:
        terms.append(c.patient_id.in_(sorted(owned)))
    for patient_id, rule in sorted(patients.items()):
        if patient_id not in owned and rule.can_permit:
            terms.append(and_(c.patient_id == patient_id, _patient(table, rule)))
    return or_(*terms)


def _patient(table: FromClause, rule: PatientRule) -> ColumnElement[bool]:
    c = table.c
    named = sorted(rule.types)
    terms = [
        and_(c.resource_type == name, _type(table, type_rule))
        for name, type_rule in sorted(rule.types.items())
        if type_rule.can_permit
    ]
    if rule.other.can_permit:
        others = c.resource_type.not_in(named) if named else true()
        terms.append(and_(others, _type(table, rule.other)))
    return or_(*terms) if terms else false()


def _type(table: FromClause, rule: TypeRule) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = true() if rule.default else false()
    for exception in reversed(rule.exceptions):
        matched = _match(table, exception)
        condition = or_(matched, condition) if exception.permit else and_(not_(matched), condition)
    return condition


def _match(table: FromClause, exception: Exception_) -> ColumnElement[bool]:
    return and_(*(_level(table, level) for level in exception.match))


def _level(table: FromClause, refs: tuple[DataRef, ...]) -> ColumnElement[bool]:
    """Any of the refs: the plain instances of one type as one IN list."""
    c = table.c
    instances: dict[str, list[str]] = {}
    terms = []
    for ref in refs:
        if ref.meaning == "instance":
            instances.setdefault(ref.resource_type, []).append(ref.resource_id)
        else:
            terms.append(_ref(table, ref))
    for resource_type, ids in sorted(instances.items()):
        terms.append(and_(c.resource_type == resource_type, c.id.in_(sorted(set(ids)))))
    return or_(*terms)


def _ref(table: FromClause, ref: DataRef) -> ColumnElement[bool]:
    c = table.c
    itself = and_(c.resource_type == ref.resource_type, c.id == ref.resource_id)
    if ref.meaning == "instance":
        return itself
    sr = search_reference.alias()
    if ref.meaning == "related":  # the resources the data resource references
        linked = (
            select(1)
            .select_from(sr)
            .where(
                sr.c.resource_type == ref.resource_type,
                sr.c.resource_id == ref.resource_id,
                sr.c.target_type == c.resource_type,
                sr.c.target_id == c.id,
            )
            .correlate(table)
        )
    else:  # dependents: the resources that reference the data resource
        linked = (
            select(1)
            .select_from(sr)
            .where(
                sr.c.resource_type == c.resource_type,
                sr.c.resource_id == c.id,
                sr.c.target_type == ref.resource_type,
                sr.c.target_id == ref.resource_id,
            )
            .correlate(table)
        )
    return or_(itself, exists(linked))

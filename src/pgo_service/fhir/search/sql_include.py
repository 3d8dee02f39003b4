"""One statement per include level: every ``_include``/``_revinclude`` at once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select

from pgo_service.db.models import resource, search_reference
from pgo_service.fhir.search.aliases import alias_of
from pgo_service.fhir.search.query import IncludeSpec
from pgo_service.fhir.search.sql import found_columns, param_is
from pgo_service.fhir.visibility import RowFilter

Frontier = dict[str, list[str]]  # resource type -> ids whose references are followed


def include_select(
    specs: list[IncludeSpec], frontier: Frontier, visible: RowFilter | None = None
) -> Select[Any] | None:
    conditions = [c for spec in specs if (c := _spec_condition(spec, frontier)) is not None]
    if not conditions:
        return None
    where = [resource.c.deleted == false(), or_(*conditions)]
    if visible is not None:
        where.append(visible(resource))
    return (
        select(*found_columns(resource))
        .where(*where)
        .order_by(resource.c.resource_type, resource.c.id)
    )


def _spec_condition(spec: IncludeSpec, frontier: Frontier) -> ColumnElement[bool] | None:
    if spec.reverse:
        return _reverse_condition(spec, frontier)
    return _forward_condition(spec, frontier)


def _forward_condition(spec: IncludeSpec, frontier: Frontier) -> ColumnElement[bool] | None:
    ids = frontier.get(spec.source_type)
    if not ids:
        return None
    ref = alias_of(search_reference)
    where = [
        ref.c.resource_type == spec.source_type,
        ref.c.resource_id.in_(ids),
        ref.c.target_type == resource.c.resource_type,
        ref.c.target_id == resource.c.id,
    ]
    if spec.param is not None:
        where.append(param_is(ref, spec.source_type, spec.param))
    found = exists(select(1).select_from(ref).where(*where).correlate(resource))
    if spec.target_type is None:
        return found
    return and_(resource.c.resource_type == spec.target_type, found)


def _reverse_condition(spec: IncludeSpec, frontier: Frontier) -> ColumnElement[bool] | None:
    targets = [
        (target_type, ids)
        for target_type, ids in frontier.items()
        if ids and spec.target_type in (None, target_type)
    ]
    if not targets:
        return None
    ref = alias_of(search_reference)
    where = [
        ref.c.resource_type == spec.source_type,
        ref.c.resource_id == resource.c.id,
        or_(*(and_(ref.c.target_type == t, ref.c.target_id.in_(ids)) for t, ids in targets)),
    ]
    if spec.param is not None:
        where.append(param_is(ref, spec.source_type, spec.param))
    found = exists(select(1).select_from(ref).where(*where).correlate(resource))
    return and_(resource.c.resource_type == spec.source_type, found)

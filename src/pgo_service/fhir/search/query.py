"""Parsing raw search parameters into a typed ``SearchQuery``.

Repeated parameter names are ANDed; the comma-separated values of one parameter
are ORed. Filters nest: a chained parameter (``subject.name``) holds the clause it
applies to each possible target type, and ``_has`` holds the clause that the
referring resource must satisfy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pgo_service.fhir.errors import Category, FhirError
from pgo_service.fhir.search import query_values as qv
from pgo_service.fhir.search.query_values import Value

if TYPE_CHECKING:
    from pgo_service.fhir.search.params import SearchParam

SUMMARY_MODES = ("true", "text", "data", "count", "false")
TOTAL_MODES = ("none", "estimate", "accurate")
SORTABLE_TYPES = ("string", "token", "date", "reference", "quantity", "number", "uri")
MAX_DEPTH = 3
_IGNORED = ("_format", "_pretty")
_MODIFIERS: dict[str, tuple[str, ...]] = {
    "string": ("exact", "contains", "missing"),
    "token": ("not", "text", "missing"),
    "reference": ("identifier", "missing"),
    "date": ("missing",),
    "number": ("missing",),
    "quantity": ("missing",),
    "uri": ("below", "above", "missing"),
}


@dataclass(frozen=True, slots=True)
class ParamClause:
    code: str
    type: str
    modifier: str | None
    values: tuple[Value, ...]  # ORed; empty when ``missing`` is set
    missing: bool | None = None


@dataclass(frozen=True, slots=True)
class ChainClause:
    code: str  # the reference parameter on the searched type
    inner: tuple[tuple[str, Clause], ...]  # (target type, clause on that type)


@dataclass(frozen=True, slots=True)
class HasClause:
    source_type: str
    ref_param: str  # reference parameter on source_type pointing at the searched type
    inner: Clause


Clause = ParamClause | ChainClause | HasClause


@dataclass(frozen=True, slots=True)
class SortKey:
    code: str
    type: str
    descending: bool


@dataclass(frozen=True, slots=True)
class IncludeSpec:
    source_type: str
    param: str | None  # None for the "*" wildcard
    target_type: str | None
    iterate: bool
    reverse: bool

    def render(self) -> tuple[str, str]:
        name = "_revinclude" if self.reverse else "_include"
        value = f"{self.source_type}:{self.param or '*'}"
        if self.target_type:
            value += f":{self.target_type}"
        return (f"{name}:iterate" if self.iterate else name), value


@dataclass
class SearchQuery:
    resource_type: str
    clauses: list[Clause] = field(default_factory=list)
    sort: list[SortKey] = field(default_factory=list)
    includes: list[IncludeSpec] = field(default_factory=list)
    count: int = 20
    offset: int = 0
    summary: str | None = None
    elements: tuple[str, ...] = ()
    total: str | None = None
    warnings: list[str] = field(default_factory=list)
    filter_params: list[tuple[str, str]] = field(default_factory=list)

    def canonical_params(self) -> list[tuple[str, str]]:
        params = list(self.filter_params)
        if self.sort:
            keys = ",".join(("-" if k.descending else "") + k.code for k in self.sort)
            params.append(("_sort", keys))
        params.extend(spec.render() for spec in self.includes)
        if self.summary is not None:
            params.append(("_summary", self.summary))
        if self.elements:
            params.append(("_elements", ",".join(self.elements)))
        if self.total is not None:
            params.append(("_total", self.total))
        return params


class UnknownParam(Exception):
    """A parameter this server does not know or support (lenient mode skips it)."""


def _search_param(resource_type: str, code: str) -> SearchParam | None:
    from pgo_service.fhir.search.params import search_param

    return search_param(resource_type, code)


def parse_search(
    resource_type: str,
    params: list[tuple[str, str]],
    *,
    strict: bool,
    default_count: int = 20,
    max_count: int = 1000,
) -> SearchQuery:
    query = SearchQuery(resource_type, count=default_count)
    for name, raw in params:
        try:
            _parse_one(query, name, raw, max_count)
        except UnknownParam as exc:
            if strict:
                raise FhirError(Category.INVALID, str(exc), expression=[name]) from exc
            query.warnings.append(str(exc))
    return query


def parse_filters(resource_type: str, params: list[tuple[str, str]]) -> list[Clause]:
    """Strictly parse filter parameters only, skipping result-control parameters."""
    clauses: list[Clause] = []
    for name, raw in params:
        if _is_control(name):
            continue
        try:
            clauses.append(parse_clause(resource_type, name, raw, 0))
        except UnknownParam as exc:
            raise FhirError(Category.INVALID, str(exc), expression=[name]) from exc
    return clauses


def _is_control(name: str) -> bool:
    base = name.split(":", 1)[0]
    return base in _IGNORED or base in _CONTROL


def _parse_one(query: SearchQuery, name: str, raw: str, max_count: int) -> None:
    base = name.split(":", 1)[0]
    if base in _IGNORED:
        return
    handler = _CONTROL.get(base)
    if handler is not None:
        handler(query, name, raw, max_count)
        return
    query.clauses.append(parse_clause(query.resource_type, name, raw, 0))
    query.filter_params.append((name, raw))


def parse_clause(resource_type: str, name: str, raw: str, depth: int) -> Clause:
    if depth > MAX_DEPTH:
        raise UnknownParam(f"Search parameter '{name}' nests chains too deeply")
    if name.startswith("_has:"):
        return _parse_has(resource_type, name, raw, depth)
    if "." in name:
        return _parse_chain(resource_type, name, raw, depth)
    code, _, modifier = name.partition(":")
    param = _search_param(resource_type, code)
    if param is None:
        raise UnknownParam(f"Unknown search parameter '{code}' for {resource_type}")
    return _param_clause(name, code, param.type, param.targets, modifier or None, raw)


def _parse_chain(resource_type: str, name: str, raw: str, depth: int) -> ChainClause:
    head, rest = name.split(".", 1)
    code, _, type_modifier = head.partition(":")
    param = _search_param(resource_type, code)
    if param is None:
        raise UnknownParam(f"Unknown search parameter '{code}' for {resource_type}")
    if param.type != "reference":
        raise qv.invalid(name, "only reference parameters can be chained")
    targets = (type_modifier,) if type_modifier else param.targets
    inner: list[tuple[str, Clause]] = []
    for target in targets:
        try:
            inner.append((target, parse_clause(target, rest, raw, depth + 1)))
        except UnknownParam:
            continue
    if not inner:
        raise UnknownParam(f"Chained search parameter '{name}' matches no target type")
    return ChainClause(code, tuple(inner))


def _parse_has(resource_type: str, name: str, raw: str, depth: int) -> HasClause:
    parts = name.split(":", 3)
    if len(parts) != 4 or not all(parts):
        raise qv.invalid(name, "expected _has:Type:reference:parameter")
    _, source_type, ref_code, rest = parts
    ref = _search_param(source_type, ref_code)
    if ref is None or ref.type != "reference":
        raise UnknownParam(f"Unknown reference parameter '{ref_code}' for {source_type}")
    if ref.targets and resource_type not in ref.targets and "Resource" not in ref.targets:
        raise qv.invalid(name, f"{source_type}.{ref_code} cannot refer to {resource_type}")
    return HasClause(source_type, ref_code, parse_clause(source_type, rest, raw, depth + 1))


def _param_clause(
    name: str,
    code: str,
    ptype: str,
    targets: tuple[str, ...],
    modifier: str | None,
    raw: str,
) -> ParamClause:
    if code == "_id":
        if modifier is not None:
            raise qv.invalid(name, f"modifier ':{modifier}' is not supported on _id")
        ids = tuple(qv.TokenValue(None, v, True) for v in _or_values(raw) if v)
        return ParamClause(code, "token", None, ids)
    if ptype not in _MODIFIERS:
        raise UnknownParam(f"Search parameter '{code}' of type {ptype} is not supported")
    _check_modifier(name, ptype, targets, modifier)
    if modifier == "missing":
        return ParamClause(code, ptype, modifier, (), qv.parse_missing(name, raw))
    values = tuple(_parse_value(name, ptype, targets, modifier, part) for part in _or_values(raw))
    return ParamClause(code, ptype, modifier, values)


def _check_modifier(name: str, ptype: str, targets: tuple[str, ...], modifier: str | None) -> None:
    if modifier is None or modifier in _MODIFIERS[ptype]:
        return
    if ptype == "reference" and modifier[:1].isupper():
        if targets and modifier not in targets and "Resource" not in targets:
            raise qv.invalid(name, f"{modifier} is not a target type of this parameter")
        return
    raise qv.invalid(name, f"modifier ':{modifier}' is not supported")


def _or_values(raw: str) -> list[str]:
    return qv.split_unescaped(raw, ",")


def _parse_value(
    name: str, ptype: str, targets: tuple[str, ...], modifier: str | None, raw: str
) -> Value:
    if ptype == "string":
        return qv.parse_string(name, raw, modifier)
    if ptype == "token":
        if modifier == "text":
            return qv.parse_string(name, raw, None)
        return qv.parse_token(name, raw)
    if ptype == "reference":
        if modifier == "identifier":
            return qv.parse_token(name, raw)
        return qv.parse_reference(name, raw, modifier, targets)
    if ptype == "date":
        return qv.parse_date(name, raw)
    if ptype in ("number", "quantity"):
        return qv.parse_number(name, raw, with_units=ptype == "quantity")
    return qv.parse_uri(name, raw)


def _int_param(name: str, raw: str) -> int:
    try:
        number = int(raw)
    except ValueError as exc:
        raise qv.invalid(name, f"not an integer {raw!r}") from exc
    if number < 0:
        raise qv.invalid(name, "must not be negative")
    return number


def _control_count(query: SearchQuery, name: str, raw: str, max_count: int) -> None:
    count = _int_param(name, raw)
    if count > max_count:
        query.warnings.append(f"_count {count} reduced to the maximum of {max_count}")
    query.count = min(count, max_count)


def _control_offset(query: SearchQuery, name: str, raw: str, _max: int) -> None:
    query.offset = _int_param(name, raw)


def _control_summary(query: SearchQuery, name: str, raw: str, _max: int) -> None:
    if raw not in SUMMARY_MODES:
        raise qv.invalid(name, f"expected one of {', '.join(SUMMARY_MODES)}")
    query.summary = raw


def _control_total(query: SearchQuery, name: str, raw: str, _max: int) -> None:
    if raw not in TOTAL_MODES:
        raise qv.invalid(name, f"expected one of {', '.join(TOTAL_MODES)}")
    query.total = raw


def _control_elements(query: SearchQuery, name: str, raw: str, _max: int) -> None:
    prefix = query.resource_type + "."
    names = (e.strip().removeprefix(prefix) for e in raw.split(","))
    query.elements = tuple(dict.fromkeys(query.elements + tuple(n for n in names if n)))


def _control_sort(query: SearchQuery, name: str, raw: str, _max: int) -> None:
    keys: list[SortKey] = []
    for item in raw.split(","):
        item = item.strip()
        code = item.removeprefix("-")
        param = _search_param(query.resource_type, code) if code else None
        if param is None or param.type not in SORTABLE_TYPES:
            raise UnknownParam(f"Cannot sort {query.resource_type} by '{code}'")
        keys.append(SortKey(code, param.type, item.startswith("-")))
    query.sort = keys


def _control_include(query: SearchQuery, name: str, raw: str, _max: int) -> None:
    base, _, modifier = name.partition(":")
    if modifier not in ("", "iterate", "recurse"):
        raise qv.invalid(name, f"modifier ':{modifier}' is not supported")
    reverse = base == "_revinclude"
    iterate = bool(modifier)
    parts = raw.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise qv.invalid(name, f"expected Type:parameter[:targetType], got {raw!r}")
    source, code = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    if not reverse and not iterate and source != query.resource_type:
        raise UnknownParam(f"{name}={raw} does not start from {query.resource_type}")
    if code != "*":
        param = _search_param(source, code)
        if param is None or param.type != "reference":
            raise UnknownParam(f"Unknown reference parameter '{code}' for {source} in {name}")
    spec = IncludeSpec(source, None if code == "*" else code, target, iterate, reverse)
    if spec not in query.includes:
        query.includes.append(spec)


def _control_unsupported(query: SearchQuery, name: str, raw: str, _max: int) -> None:
    if raw != "false":
        raise UnknownParam(f"Search parameter '{name}' is not supported")


_CONTROL = {
    "_count": _control_count,
    "_offset": _control_offset,
    "_summary": _control_summary,
    "_total": _control_total,
    "_elements": _control_elements,
    "_sort": _control_sort,
    "_include": _control_include,
    "_revinclude": _control_include,
    "_contained": _control_unsupported,
}

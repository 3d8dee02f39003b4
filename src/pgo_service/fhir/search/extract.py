"""Search-index extraction: what a resource contributes to the index tables.

Each registry parameter's expression is compiled once per resource type; the typed
nodes it yields are turned into entries by a converter chosen by the parameter type
and the node's FHIR type (R4 §3.1.1.4 describes which elements each type matches).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

from pgo_service.fhir.search.custom import custom_params
from pgo_service.fhir.search.fhirpath import CompiledPath, parse_reference
from pgo_service.fhir.search.index import (
    DateEntry,
    IndexEntry,
    QuantityEntry,
    ReferenceEntry,
    StringEntry,
    TokenEntry,
    UriEntry,
)
from pgo_service.fhir.search.normalize import MAX_TIME, MIN_TIME, date_range, normalize_string
from pgo_service.fhir.search.params import (
    SearchParam,
    fhirpath_compiler,
    search_params,
    supported_types,
)

STRING_SIZE = 512
URL_SIZE = 1024
TYPE_SIZE = 40
UNBOUNDED = sys.float_info.max
CURRENCY_SYSTEM = "urn:iso:std:iso:4217"
CACHE_SIZE = 8192

_Converter = Callable[[str, Any], Iterator[IndexEntry]]


# Parameters on what the server sets when it stores a version (the id and meta of
# a new resource), and so not known before.
_SERVER_SET = frozenset({"_id", "_lastUpdated"})


def extract(resource_type: str, resource: dict[str, Any]) -> list[IndexEntry]:
    """All index entries of a resource, without duplicates, in a stable order."""
    entries = list(_registry_entries(resource_type, resource, None))
    for custom in custom_params(resource_type):
        entries.extend(custom.extract(resource))
    return list(dict.fromkeys(entries))


def _registry_entries(
    resource_type: str, resource: dict[str, Any], server_set: bool | None
) -> Iterator[IndexEntry]:
    """Entries of the registry's parameters: all, or only those on server-set
    elements (``server_set`` True), or all but those (False)."""
    for code, path, converters in _plan(resource_type):
        if server_set is not None and (code in _SERVER_SET) != server_set:
            continue
        for value, fhir_type in path.evaluate(resource):
            convert = converters.get(fhir_type)
            if convert is not None:
                yield from convert(code, value)


def content_entries(resource_type: str, body: dict[str, Any]) -> list[IndexEntry]:
    """The entries that depend only on what the client sent, for a writer that finds
    them before its transaction (see ``entries_with``): every registry parameter but
    those on server-set elements. The custom parameters are left to the moment of
    writing (some depend on the time)."""
    return list(dict.fromkeys(_registry_entries(resource_type, body, False)))


def entries_with(
    resource_type: str, document: dict[str, Any], content: list[IndexEntry]
) -> list[IndexEntry]:
    """What ``extract`` gives for the stored ``document``, given the ``content_entries``
    of the body it was made from."""
    entries = [*content, *_registry_entries(resource_type, document, True)]
    for custom in custom_params(resource_type):
        entries.extend(custom.extract(document))
    return list(dict.fromkeys(entries))


def entries_of(param_type: str, fhir_type: str, code: str, value: Any) -> list[IndexEntry]:
    """What one value of a FHIR type contributes to the parameter ``code``, for a writer
    that knows where its values sit and need not evaluate every expression."""
    convert = _CONVERTERS.get(param_type, {}).get(fhir_type)
    return list(convert(code, value)) if convert is not None else []


def clear_plans() -> None:
    _plan.cache_clear()


@cache
def _plan(resource_type: str) -> tuple[tuple[str, CompiledPath, dict[str, _Converter]], ...]:
    if resource_type not in supported_types():
        return ()
    compiler = fhirpath_compiler()
    return tuple(
        (param.code, compiler.compile(param.expression, resource_type), _converters(param))
        for param in search_params(resource_type).values()
        if param.expression
    )


def _converters(param: SearchParam) -> dict[str, _Converter]:
    return _CONVERTERS.get(param.type, {})


# --- helpers ------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A non-blank string, else None."""
    return value if isinstance(value, str) and value.strip() else None


def _clip(value: Any, size: int = STRING_SIZE) -> str | None:
    text = _text(value)
    return text[:size] if text is not None else None


@lru_cache(maxsize=CACHE_SIZE)
def _normalize(text: str) -> str:
    return normalize_string(text)[:STRING_SIZE]


def _normalized(value: Any) -> str | None:
    text = _text(value)
    return _normalize(text) if text is not None else None


def _strings(value: Any) -> Iterator[str]:
    """A string or the strings of a list of them."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        text = _text(item)
        if text is not None:
            yield text


# --- string -------------------------------------------------------------------------

_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")


def _string_entry(code: str, text: str) -> StringEntry:
    return StringEntry(code, _normalize(text), text[:STRING_SIZE])


def _string(code: str, value: Any) -> Iterator[IndexEntry]:
    text = _text(value)
    if text is not None:
        yield _string_entry(code, text)


def _string_parts(parts: tuple[str, ...]) -> _Converter:
    def convert(code: str, value: Any) -> Iterator[IndexEntry]:
        if not isinstance(value, dict):
            return
        for part in parts:
            for text in _strings(value.get(part)):
                yield _string_entry(code, text)

    return convert


# --- token --------------------------------------------------------------------------


def _token_primitive(code: str, value: Any) -> Iterator[IndexEntry]:
    if isinstance(value, bool):
        yield TokenEntry(code, None, "true" if value else "false", None)
    elif (text := _clip(value)) is not None:
        yield TokenEntry(code, None, text, None)


def _coding(code: str, value: Any) -> Iterator[IndexEntry]:
    if not isinstance(value, dict):
        return
    system, token, display = _clip(value.get("system")), _clip(value.get("code")), None
    display = _normalized(value.get("display"))
    if system or token or display:
        yield TokenEntry(code, system, token, display)


def _codeable_concept(code: str, value: Any) -> Iterator[IndexEntry]:
    if not isinstance(value, dict):
        return
    for coding in value.get("coding") or ():
        yield from _coding(code, coding)
    text = _normalized(value.get("text"))
    if text is not None:
        yield TokenEntry(code, None, None, text)


def _identifier(code: str, value: Any) -> Iterator[IndexEntry]:
    if not isinstance(value, dict):
        return
    system, token = _clip(value.get("system")), _clip(value.get("value"))
    type_ = value.get("type")
    text = _normalized(type_.get("text")) if isinstance(type_, dict) else None
    if system or token:
        yield TokenEntry(code, system, token, text)


def _contact_point(code: str, value: Any) -> Iterator[IndexEntry]:
    if isinstance(value, dict) and (token := _clip(value.get("value"))) is not None:
        yield TokenEntry(code, None, token, None)


# --- reference ----------------------------------------------------------------------


@lru_cache(maxsize=CACHE_SIZE)
def _literal_reference(literal: str) -> tuple[str | None, str | None, str | None]:
    """(target type, target id, url) of a literal reference."""
    if literal.startswith("#"):
        return None, None, None
    target = parse_reference(literal)
    relative = "://" not in literal and not literal.startswith("urn:")
    if target is not None and relative:
        return target[0], target[1], None
    if target is not None and target[0] in supported_types():
        return target[0], target[1], literal[:URL_SIZE]
    return None, None, literal[:URL_SIZE]


def _reference(code: str, value: Any) -> Iterator[IndexEntry]:
    if not isinstance(value, dict):
        return
    target_type = target_id = url = None
    literal = _text(value.get("reference"))
    if literal is not None:
        target_type, target_id, url = _literal_reference(literal)
    identifier = value.get("identifier")
    id_system = id_value = None
    if isinstance(identifier, dict):
        id_system, id_value = _clip(identifier.get("system")), _clip(identifier.get("value"))
    if target_id or url or id_value:
        yield ReferenceEntry(code, target_type, target_id, url, id_system, id_value)


def _canonical_reference(code: str, value: Any) -> Iterator[IndexEntry]:
    if (url := _clip(value, URL_SIZE)) is not None:
        yield ReferenceEntry(code, None, None, url, None, None)


# --- date ---------------------------------------------------------------------------


def _range_of(value: Any) -> tuple[int, int] | None:
    return _date_range(value) if isinstance(value, str) else None


@lru_cache(maxsize=CACHE_SIZE)
def _date_range(value: str) -> tuple[int, int] | None:
    try:
        return date_range(value)
    except ValueError:
        return None


def _date(code: str, value: Any) -> Iterator[IndexEntry]:
    bounds = _range_of(value)
    if bounds is not None:
        yield DateEntry(code, *bounds)


def _period(code: str, value: Any) -> Iterator[IndexEntry]:
    if not isinstance(value, dict):
        return
    start, end = _range_of(value.get("start")), _range_of(value.get("end"))
    if start is None and end is None:
        return
    yield DateEntry(code, start[0] if start else MIN_TIME, end[1] if end else MAX_TIME)


def _timing(code: str, value: Any) -> Iterator[IndexEntry]:
    if not isinstance(value, dict):
        return
    for event in value.get("event") or ():
        yield from _date(code, event)
    repeat = value.get("repeat")
    if isinstance(repeat, dict):
        yield from _period(code, repeat.get("boundsPeriod"))


# --- quantity -----------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _implicit_range(number: Decimal) -> tuple[float, float]:
    """The range a decimal's written precision implies: 1.50 covers [1.495, 1.505]."""
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Decimal(5).scaleb(exponent - 1)
    return float(number - half), float(number + half)


def _number(code: str, value: Any) -> Iterator[IndexEntry]:
    number = _decimal(value)
    if number is not None:
        yield QuantityEntry(code, *_implicit_range(number), None, None)


def _quantity(code: str, value: Any) -> Iterator[IndexEntry]:
    if not isinstance(value, dict) or (number := _decimal(value.get("value"))) is None:
        return
    unit = _clip(value.get("code")) or _clip(value.get("unit"))
    yield QuantityEntry(code, *_implicit_range(number), _clip(value.get("system")), unit)


def _money(code: str, value: Any) -> Iterator[IndexEntry]:
    if not isinstance(value, dict) or (number := _decimal(value.get("value"))) is None:
        return
    currency = _clip(value.get("currency"))
    yield QuantityEntry(
        code, *_implicit_range(number), CURRENCY_SYSTEM if currency else None, currency
    )


def _range(code: str, value: Any) -> Iterator[IndexEntry]:
    if not isinstance(value, dict):
        return
    low, high = value.get("low"), value.get("high")
    low = low if isinstance(low, dict) else {}
    high = high if isinstance(high, dict) else {}
    low_value, high_value = _decimal(low.get("value")), _decimal(high.get("value"))
    if low_value is None and high_value is None:
        return
    unit_source = low if low_value is not None else high
    unit = _clip(unit_source.get("code")) or _clip(unit_source.get("unit"))
    yield QuantityEntry(
        code,
        float(low_value) if low_value is not None else -UNBOUNDED,
        float(high_value) if high_value is not None else UNBOUNDED,
        _clip(unit_source.get("system")),
        unit,
    )


# --- uri ----------------------------------------------------------------------------


def _uri(code: str, value: Any) -> Iterator[IndexEntry]:
    if (text := _clip(value, URL_SIZE)) is not None:
        yield UriEntry(code, text)


# --- dispatch -----------------------------------------------------------------------


def _for(types: str, converter: _Converter) -> dict[str, _Converter]:
    return dict.fromkeys(types.split(), converter)


_QUANTITY_TYPES = "Quantity Age Duration Count Distance SimpleQuantity MoneyQuantity"
_NUMBER_TYPES = "decimal integer positiveInt unsignedInt"
_STRING_TYPES = "string markdown code id uri url canonical"

_CONVERTERS: dict[str, dict[str, _Converter]] = {
    "string": {
        **_for(_STRING_TYPES, _string),
        "HumanName": _string_parts(_NAME_PARTS),
        "Address": _string_parts(_ADDRESS_PARTS),
    },
    "token": {
        **_for(f"{_STRING_TYPES} boolean oid uuid", _token_primitive),
        "Coding": _coding,
        "CodeableConcept": _codeable_concept,
        "Identifier": _identifier,
        "ContactPoint": _contact_point,
    },
    "reference": {
        "Reference": _reference,
        **_for("canonical uri url", _canonical_reference),
    },
    "date": {
        **_for("date dateTime instant", _date),
        "Period": _period,
        "Timing": _timing,
    },
    "quantity": {
        **_for(_QUANTITY_TYPES, _quantity),
        **_for(_NUMBER_TYPES, _number),
        "Money": _money,
        "Range": _range,
    },
    "number": {
        **_for(_NUMBER_TYPES, _number),
        **_for(_QUANTITY_TYPES, _quantity),
    },
    "uri": _for("uri url canonical oid uuid", _uri),
}

"""Typed search values and their parsers, one per search parameter type (R4 §3.1.1.4)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from pgo_service.fhir.errors import Category, FhirError
from pgo_service.fhir.search.normalize import date_range, normalize_string

Prefix = Literal["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]
PREFIXES: tuple[Prefix, ...] = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_PREFIX_RE = re.compile(r"^([a-z]{2})(?=[-+.\d])")


@dataclass(frozen=True, slots=True)
class StringValue:
    text: str  # normalised, except under :exact


@dataclass(frozen=True, slots=True)
class TokenValue:
    system: str | None
    code: str | None
    any_system: bool  # no "|" given: the code matches under any system


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    target_type: str | None
    target_id: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class DateValue:
    prefix: Prefix
    low: int  # epoch microseconds, inclusive
    high: int


@dataclass(frozen=True, slots=True)
class NumberValue:
    prefix: Prefix
    value: float
    low: float  # the range implied by the significant figures given
    high: float
    system: str | None
    code: str | None
    any_system: bool


@dataclass(frozen=True, slots=True)
class UriValue:
    uri: str


Value = StringValue | TokenValue | ReferenceValue | DateValue | NumberValue | UriValue


def invalid(name: str, message: str) -> FhirError:
    return FhirError(Category.INVALID, f"Search parameter '{name}': {message}")


def split_unescaped(text: str, sep: str) -> list[str]:
    """Split on ``sep`` where it is not escaped with a backslash; escapes are kept."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            current.append(char)
            current.append(next(chars, ""))
        elif char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_string(name: str, raw: str, modifier: str | None) -> StringValue:
    text = unescape(raw)
    if not text:
        raise invalid(name, "empty value")
    return StringValue(text if modifier == "exact" else normalize_string(text))


def parse_token(name: str, raw: str) -> TokenValue:
    parts = split_unescaped(raw, "|")
    if len(parts) == 1:
        code = unescape(parts[0])
        if not code:
            raise invalid(name, "empty value")
        return TokenValue(None, code, any_system=True)
    if len(parts) != 2:
        raise invalid(name, f"malformed token {raw!r}")
    system, value = unescape(parts[0]) or None, unescape(parts[1]) or None
    if system is None and value is None:
        raise invalid(name, "empty token")
    return TokenValue(system, value, any_system=False)


def parse_reference(
    name: str, raw: str, type_modifier: str | None, targets: tuple[str, ...]
) -> ReferenceValue:
    text = unescape(raw).strip()
    if not text:
        raise invalid(name, "empty value")
    if "://" in text or text.startswith(("urn:", "#")):
        return ReferenceValue(None, None, text)
    segments = text.split("/")
    if len(segments) == 4 and segments[2] == "_history":
        segments = segments[:2]
    if len(segments) == 2 and all(segments):
        if type_modifier and segments[0] != type_modifier:
            raise invalid(name, f"{text!r} does not match the type modifier {type_modifier}")
        return ReferenceValue(segments[0], segments[1], None)
    if len(segments) != 1:
        raise invalid(name, f"malformed reference {raw!r}")
    target = type_modifier or (targets[0] if len(targets) == 1 else None)
    return ReferenceValue(target, text, None)


def _split_prefix(name: str, raw: str) -> tuple[Prefix, str]:
    match = _PREFIX_RE.match(raw)
    if not match:
        return "eq", raw
    prefix = match.group(1)
    for known in PREFIXES:
        if known == prefix:
            return known, raw[2:]
    raise invalid(name, f"unknown prefix {prefix!r}")


def parse_date(name: str, raw: str) -> DateValue:
    prefix, rest = _split_prefix(name, raw.strip())
    # A "+" in a zone offset arrives as a space when the client did not escape it.
    rest = re.sub(r" (\d{2}:\d{2})$", r"+\1", rest)
    try:
        low, high = date_range(rest)
    except ValueError as exc:
        raise invalid(name, f"not a valid date {raw!r}") from exc
    return DateValue(prefix, low, high)


def _decimal(name: str, raw: str, text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise invalid(name, f"not a valid number {raw!r}") from exc
    if not number.is_finite():
        raise invalid(name, f"not a valid number {raw!r}")
    return number


def parse_number(name: str, raw: str, *, with_units: bool) -> NumberValue:
    prefix, rest = _split_prefix(name, raw.strip())
    parts = split_unescaped(rest, "|")
    if len(parts) not in ((1, 3) if with_units else (1,)):
        raise invalid(name, f"malformed value {raw!r}")
    number = _decimal(name, raw, parts[0])
    exponent = number.as_tuple().exponent
    half = Decimal(5) * Decimal(10) ** (int(exponent) - 1)
    system = code = None
    if len(parts) == 3:
        system = unescape(parts[1]) or None
        code = unescape(parts[2]) or None
    return NumberValue(
        prefix,
        float(number),
        float(number - half),
        float(number + half),
        system,
        code,
        any_system=system is None,
    )


def parse_uri(name: str, raw: str) -> UriValue:
    text = unescape(raw).strip()
    if not text:
        raise invalid(name, "empty value")
    return UriValue(text)


def parse_missing(name: str, raw: str) -> bool:
    if raw not in ("true", "false"):
        raise invalid(name, "':missing' takes true or false")
    return raw == "true"

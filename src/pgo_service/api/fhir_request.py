"""Reading an HTTP request into a FhirRequest: content types, size limit, form bodies."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from ..fhir.errors import Category, FhirError
from ..fhir.exchange import FhirRequest
from ..fhir.jsonio import parse_json

_JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
_PATCH_TYPES = ("application/json-patch+json",)
_FORM = "application/x-www-form-urlencoded"
_XML_HINTS = ("xml",)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def check_acceptable(request: Request) -> None:
    fmt = request.query_params.get("_format")
    if fmt and any(h in fmt for h in _XML_HINTS):
        raise FhirError(Category.NOT_ACCEPTABLE, "Only JSON is supported (_format)")
    accept = request.headers.get("accept", "")
    if accept and "json" not in accept and "*/*" not in accept and "xml" in accept:
        raise FhirError(Category.NOT_ACCEPTABLE, "Only application/fhir+json is supported")


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise FhirError(Category.TOO_LARGE, f"The body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise FhirError(Category.TOO_LARGE, f"The body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def to_fhir_request(request: Request, path: str, base_url: str, limit: int) -> FhirRequest:
    check_acceptable(request)
    method = request.method.upper()
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "_format"]
    body = None
    if method in ("POST", "PUT", "PATCH"):
        raw = await read_body(request, limit)
        media = _media_type(request)
        if path.endswith("_search") and method == "POST":
            if raw and media not in (_FORM, ""):
                raise FhirError(Category.UNSUPPORTED_MEDIA, f"_search takes {_FORM}, not {media}")
            query += parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        else:
            allowed = _PATCH_TYPES + _JSON_TYPES if method == "PATCH" else _JSON_TYPES
            if media and media not in allowed:
                raise FhirError(
                    Category.UNSUPPORTED_MEDIA,
                    f"Content-Type {media!r} is not supported here; use {allowed[0]}",
                )
            if method == "PATCH" and media in _JSON_TYPES:
                raise FhirError(
                    Category.UNSUPPORTED_MEDIA,
                    "Only JSON Patch (application/json-patch+json) is supported for PATCH",
                )
            if not raw.strip():
                raise FhirError(Category.INVALID, "The request has no body")
            body = parse_json(raw)
    headers = {k.lower(): v for k, v in request.headers.items()}
    return FhirRequest(
        method=method, path=path, query=query, headers=headers, body=body, base_url=base_url
    )

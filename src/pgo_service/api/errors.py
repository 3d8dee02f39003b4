"""Every error the HTTP layer answers, as an OperationOutcome."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ..db.errors import log_failure
from ..fhir.errors import Category, FhirError
from ..fhir.jsonio import dump_json
from .responses import FHIR_JSON

log = logging.getLogger("pgo_service.api")

_BY_STATUS = {
    400: Category.INVALID,
    401: Category.UNAUTHORIZED,
    403: Category.FORBIDDEN,
    404: Category.NOT_FOUND,
    405: Category.NOT_ALLOWED,
    406: Category.NOT_ACCEPTABLE,
    409: Category.CONFLICT,
    412: Category.PRECONDITION_FAILED,
    413: Category.TOO_LARGE,
    415: Category.UNSUPPORTED_MEDIA,
    422: Category.UNPROCESSABLE,
}


def error_response(error: FhirError) -> Response:
    return Response(
        dump_json(error.outcome()),
        status_code=error.status,
        media_type=FHIR_JSON,
        headers=error.headers,
    )


async def _on_fhir_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    return error_response(exc)


async def _on_http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    category = _BY_STATUS.get(exc.status_code, Category.INVALID)
    return error_response(FhirError(category, str(exc.detail)))


async def _on_validation_error(_request: Request, exc: Exception) -> Response:
    return error_response(FhirError(Category.INVALID, f"Invalid request: {exc}"))


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log_failure(log, "unhandled error on %s %s", request.method, request.url.path, exc=exc)
    return error_response(FhirError(Category.INTERNAL, "Internal server error"))


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FhirError, _on_fhir_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)

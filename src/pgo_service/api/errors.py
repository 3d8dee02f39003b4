"""Every error the HTTP layer answers, as an OperationOutcome."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ..careplan.bsn import mask_bsns
from ..db.errors import describe_failure, log_failure
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
    path = mask_bsns(request.url.path)  # a client may put one in a path
    log_failure(log, "unhandled error on %s %s", request.method, path, exc=exc)
    return error_response(FhirError(Category.INTERNAL, "Internal server error"))


class FailureWithoutText(logging.Filter):
    """Starlette raises an unexpected exception again after its handler has answered, and
    uvicorn logs it with its message, which can hold resource content (a database's
    "Failing row contains (...)"): the record keeps its kind and stack only."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            record.msg = f"{record.getMessage()}: {describe_failure(exc)}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


_UVICORN_FAILURES = FailureWithoutText()


def register_error_handlers(app: FastAPI) -> None:
    server_log = logging.getLogger("uvicorn.error")
    if _UVICORN_FAILURES not in server_log.filters:
        server_log.addFilter(_UVICORN_FAILURES)
    app.add_exception_handler(FhirError, _on_fhir_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)

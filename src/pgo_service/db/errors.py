"""Describing a failure for logs and error records without the data it was about.

A database error's text can hold the values of the failing row (SQLAlchemy's bound
parameters, which ``make_engine`` hides, and PostgreSQL's ``DETAIL: Failing row
contains (...)``, which it cannot), and those values are resource content: a BSN, a
sealed token. An unexpected exception's message can hold anything. So a logged
failure names the kind of error, the SQL statement and where it happened: never the
message or the values.
"""

from __future__ import annotations

import logging
import traceback

from sqlalchemy.exc import DBAPIError, StatementError


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
        kind = type(orig).__name__ + (f" ({code})" if code else "")
        return f"{kind} in: {exc.statement}"
    if isinstance(exc, StatementError):
        return f"{type(exc).__name__} in: {exc.statement}"
    return type(exc).__name__


def describe_failure(exc: BaseException) -> str:
    """The error's kind and the stack it came up, without its text."""
    return describe_error(exc) + "\n" + "".join(traceback.format_tb(exc.__traceback__))


def log_failure(log: logging.Logger, message: str, *args: object, exc: BaseException) -> None:
    """``log.exception`` without the exception's text: its kind and the stack."""
    log.error(message + ": %s", *args, describe_failure(exc))

"""Dispatching /fhir requests straight to their endpoints.

Nearly all traffic is FHIR, and FastAPI's generic path (matching every route's regex
in turn, solving dependencies, the exception middleware) costs more CPU than reading
a resource does. The FHIR router's routes stay the one definition of the API (and of
the OpenAPI document); this middleware indexes those same routes by their literal
segments and calls the matching endpoint itself. A request it cannot place exactly
as Starlette would (no full match, a method not allowed, a trailing slash) goes on
to the application unchanged, which answers it as before.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.convertors import Convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..fhir.errors import FhirError
from .errors import error_response

Endpoint = Callable[..., Awaitable[Response]]

_PARAM = re.compile(r"^(?P<prefix>[^{}]*)\{(?P<name>\w+)(?::\w+)?\}$")


@dataclass(frozen=True)
class _Segment:
    literal: str | None  # the whole segment, or the text before the parameter
    name: str | None = None
    convertor: Convertor[Any] | None = None

    def match(self, text: str, params: dict[str, Any]) -> bool:
        if self.name is None:
            return text == self.literal
        prefix = self.literal or ""
        if not text.startswith(prefix):
            return False
        value = text[len(prefix) :]
        assert self.convertor is not None
        if not value or not re.fullmatch(self.convertor.regex, value):
            return False
        params[self.name] = self.convertor.convert(value)
        return True


@dataclass(frozen=True)
class _Target:
    segments: tuple[_Segment, ...]
    methods: frozenset[str]
    endpoint: Endpoint


def _target(route: Route) -> _Target | None:
    if not inspect.iscoroutinefunction(route.endpoint) or route.methods is None:
        return None
    segments: list[_Segment] = []
    for part in route.path.split("/"):
        found = _PARAM.match(part)
        if found is None:
            if "{" in part:
                return None  # a shape this index does not know: leave it to the router
            segments.append(_Segment(part))
        else:
            name = found["name"]
            segments.append(_Segment(found["prefix"], name, route.param_convertors[name]))
    return _Target(tuple(segments), frozenset(route.methods), route.endpoint)


class FhirDispatch:
    """Calls the endpoint of a /fhir route without the router's generic matching."""

    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute], prefix: str = "/fhir") -> None:
        self.app = app
        self.prefix = prefix
        self.by_length: dict[int, list[_Target]] = {}
        for route in routes:
            target = _target(route) if isinstance(route, Route) else None
            if target is not None:
                self.by_length.setdefault(len(target.segments), []).append(target)

    def _find(self, path: str, method: str) -> tuple[Endpoint, dict[str, Any]] | None:
        parts = path.split("/")
        for target in self.by_length.get(len(parts), ()):
            params: dict[str, Any] = {}
            # As Starlette: the first route matching both path and method wins; with
            # none, the router gives its own answer (405, 404 or a redirect).
            if method in target.methods and all(
                s.match(p, params) for s, p in zip(target.segments, parts, strict=True)
            ):
                return target.endpoint, params
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and (path == self.prefix or path.startswith(self.prefix + "/")):
            found = self._find(path, scope["method"])
            if found is not None:
                endpoint, params = found
                scope["path_params"] = params
                try:
                    response = await endpoint(Request(scope, receive), **params)
                except FhirError as error:
                    response = error_response(error)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

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
class _Target:
    pattern: re.Pattern[str]  # the whole path, one named group per parameter
    convertors: dict[str, Convertor[Any]]
    methods: frozenset[str]
    endpoint: Endpoint


def _target(route: Route) -> _Target | None:
    if not inspect.iscoroutinefunction(route.endpoint) or route.methods is None:
        return None
    parts: list[str] = []
    for part in route.path.split("/"):
        found = _PARAM.match(part)
        if found is None:
            if "{" in part:
                return None  # a shape this index does not know: leave it to the router
            parts.append(re.escape(part))
        else:
            name, convertor = found["name"], route.param_convertors[found["name"]]
            parts.append(f"{re.escape(found['prefix'])}(?P<{name}>{convertor.regex})")
    return _Target(
        re.compile("/".join(parts)),
        dict(route.param_convertors),
        frozenset(route.methods),
        route.endpoint,
    )


class FhirDispatch:
    """Calls the endpoint of a /fhir route without the router's generic matching."""

    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute], prefix: str = "/fhir") -> None:
        self.app = app
        self.prefix = prefix
        self.by_depth: dict[int, list[_Target]] = {}  # by the number of "/" in the path
        for route in routes:
            if isinstance(route, Route) and (target := _target(route)) is not None:
                self.by_depth.setdefault(route.path.count("/"), []).append(target)

    def _find(self, path: str, method: str) -> tuple[Endpoint, dict[str, Any]] | None:
        for target in self.by_depth.get(path.count("/"), ()):
            # As Starlette: the first route matching both path and method wins; with
            # none, the router gives its own answer (405, 404 or a redirect).
            if method in target.methods and (found := target.pattern.fullmatch(path)):
                params = {k: target.convertors[k].convert(v) for k, v in found.groupdict().items()}
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

"""The FHIR REST endpoints under /fhir. Every route hands over to the FHIR engine."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from .. import careplan
from ..config import Settings
from ..consent import AccessRecord, ConsentEnforcement, Requester
from ..db.engine import transaction, writer_lock_if_free
from ..fhir.capability import capability_statement
from ..fhir.engine import handle, is_read_only, is_single_resource
from ..fhir.errors import FhirError
from ..fhir.exchange import FhirRequest, FhirResponse
from ..fhir.interactions.context import Context, Operation, WriteRule
from ..fhir.jsonio import dump_json
from ..fhir.prepare import prepare
from ..fhir.store import ResourceStore
from .errors import error_response
from .fhir_request import check_acceptable, to_fhir_request
from .responses import FHIR_JSON, to_http
from .security import BearerAccess, Principal


class ResourceTypeConvertor(Convertor[str]):
    """A path segment that can name a resource type, so ``/fhir/.well-known/...`` and
    other non-type segments fall through to the routes that own them."""

    regex = "[A-Z][A-Za-z]{1,63}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("fhirtype", ResourceTypeConvertor())


# How long a write waits for the write lock on the loop, looking again at these
# intervals, before it waits in the pool (where threads that block on the lock could
# otherwise always take it first).
_LOOP_WRITE_PATIENCE_SECONDS = 1.0
_LOOP_WRITE_RETRY_SECONDS = 0.001
# A larger body is checked in the pool: validating a Patient of 100 kB and finding its
# index entries held the interpreter 0.16 s, one of a megabyte 1.8 s.
_LOOP_BODY_BYTES = 16 * 1024


class FhirGateway:
    """Opens the one transaction of a request and runs the engine inside it."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        rules: Sequence[WriteRule] = (),
        operations: Sequence[Operation] = (),
        access: BearerAccess | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.access = access
        self.consent = ConsentEnforcement(engine, settings.sync_max_attempts, settings.audit_writer)
        self.rules = tuple(rules)
        self.operations = {op.name: op for op in operations}
        self._single_resource_on_loop = (
            settings.single_resource_on_loop and engine.dialect.name == "sqlite"
        )

    def capabilities(self, request: Request) -> dict[str, Any]:
        extra = tuple((op.name, op.definition) for op in self.operations.values())
        oauth_uris = self.access.oauth_uris(request) if self.access else ()
        return capability_statement(self.base_url(request), extra, oauth_uris)

    def base_url(self, request: Request) -> str:
        if self.settings.base_url:
            return self.settings.base_url.rstrip("/")
        return _base_url(request)

    def publish_terminology(self) -> None:
        with transaction(self.engine) as conn:
            careplan.publish(ResourceStore(conn))

    def run(self, fhir_request: FhirRequest, token: str | None = None) -> FhirResponse:
        """Run one request in one transaction: resolve the caller's token, authorize,
        then hand over to the engine. Without ``token`` (operator tools) nothing is
        checked."""
        return self.run_as(fhir_request, token)[0]

    def run_as(
        self, fhir_request: FhirRequest, token: str | None, correlation_id: str | None = None
    ) -> tuple[FhirResponse, Principal | None]:
        if _touches_audit_trail(fhir_request):
            self.consent.audit.flush()  # the trail a client reads includes this moment
        write = not is_read_only(fhir_request)
        if write:
            self._prepare(fhir_request, token)
        principal: Principal | None = None
        ctx: Context | None = None
        try:
            with transaction(self.engine, write=write) as conn:
                ctx = Context(
                    ResourceStore(conn),
                    default_page_size=self.settings.default_page_size,
                    max_page_size=self.settings.max_page_size,
                    rules=self.rules,
                    operations=self.operations,
                )
                if self.access is not None and token is not None:
                    principal = self.access.resolve(conn, token)
                    self.access.authorize(fhir_request, principal)
                    policy = self.consent.for_request(
                        conn, _requester(principal), self.access.now()
                    )
                    ctx.visibility = policy.visibility
                    ctx.rules = (*self.rules, *policy.rules)
                response = handle(ctx, fhir_request)
        except FhirError as error:
            if principal is not None:
                self._audit(fhir_request, principal, ctx, correlation_id, error)
            raise
        if principal is not None:
            self._audit(fhir_request, principal, ctx, correlation_id, None)
        return response, principal

    def _prepare(self, fhir_request: FhirRequest, token: str | None) -> None:
        if fhir_request.checked is None and (token is not None or self.access is None):
            prepare(fhir_request)

    def _audit(
        self,
        request: FhirRequest,
        principal: Principal,
        ctx: Context | None,
        correlation_id: str | None,
        error: FhirError | None,
    ) -> None:
        assert self.access is not None
        record = AccessRecord(
            method=request.method,
            path="/" + request.path.strip("/"),
            permitted=error is None,
            actor=principal.actor_reference,
            client_id=principal.client_id,
            shown=tuple(ctx.shown) if ctx is not None else (),
            target_patient=principal.patient_id if error is not None else None,
            detail=error.message if error is not None else None,
            correlation_id=correlation_id,
        )
        self.consent.audit.record(record, self.access.now())

    async def __call__(self, request: Request, path: str) -> Response:
        try:
            token = self.access.bearer_token(request) if self.access else None
            fhir_request = await to_fhir_request(
                request, path, self.base_url(request), self.settings.max_body_bytes
            )
            correlation_id = getattr(request.state, "correlation_id", None)
            if self._runs_on_loop(fhir_request, request):
                response = await self._on_loop(fhir_request, token, correlation_id)
            else:
                response = await self._in_pool(fhir_request, token, correlation_id)
        except FhirError as error:
            return error_response(error)
        return to_http(response, head=request.method == "HEAD")

    def _runs_on_loop(self, fhir_request: FhirRequest, request: Request) -> bool:
        return (
            self._single_resource_on_loop
            and is_single_resource(fhir_request)
            # the audit trail is read once the audit writer has caught up: a wait
            and not _touches_audit_trail(fhir_request)
            # checking a large body takes long (a body of unstated length may be large)
            and (fhir_request.body is None or _stated_length(request) <= _LOOP_BODY_BYTES)
        )

    async def _on_loop(
        self, fhir_request: FhirRequest, token: str | None, correlation_id: str | None
    ) -> FhirResponse:
        if is_read_only(fhir_request):  # SQLite's readers never wait for its writer
            return self.run_as(fhir_request, token, correlation_id)[0]
        self._prepare(fhir_request, token)
        # The write lock may be held by someone else (a Bundle in the pool, the audit
        # writer, another server process): waiting for it on the loop would stop every
        # request, so the loop looks again between others until it is free. Handing
        # the write to the pool instead would have the next one find the lock held by
        # that thread, and the next: all writes would end up in the pool.
        patience = asyncio.get_running_loop().time() + _LOOP_WRITE_PATIENCE_SECONDS
        while True:
            with writer_lock_if_free(self.engine) as held:
                if held:
                    return self.run_as(fhir_request, token, correlation_id)[0]
            if asyncio.get_running_loop().time() > patience:
                break
            await asyncio.sleep(_LOOP_WRITE_RETRY_SECONDS)
        return await self._in_pool(fhir_request, token, correlation_id)

    async def _in_pool(
        self, fhir_request: FhirRequest, token: str | None, correlation_id: str | None
    ) -> FhirResponse:
        response, _principal = await run_in_threadpool(
            self.run_as, fhir_request, token, correlation_id
        )
        return response


def _stated_length(request: Request) -> int:
    stated = request.headers.get("content-length", "")
    return int(stated) if stated.isdigit() else _LOOP_BODY_BYTES + 1


def _touches_audit_trail(fhir_request: FhirRequest) -> bool:
    return fhir_request.path.strip("/").startswith("AuditEvent")


_BASE_URLS: dict[tuple[Any, ...], str] = {}


def _base_url(request: Request) -> str:
    # Starlette builds the base URL from the scope and the Host header anew for every
    # request; a handful of distinct answers recur, and building one costs more than
    # looking it up.
    scope = request.scope
    key = (
        scope.get("scheme"),
        request.headers.get("host"),
        tuple(scope.get("server") or ()),
        scope.get("app_root_path", scope.get("root_path")),
    )
    found = _BASE_URLS.get(key)
    if found is None:
        found = str(request.base_url).rstrip("/") + "/fhir"
        if len(_BASE_URLS) >= 256:  # Host headers are the client's to choose
            _BASE_URLS.clear()
        _BASE_URLS[key] = found
    return found


def _requester(principal: Principal) -> Requester:
    # system/ scopes are only ever granted to clients an operator registered with --system
    system = "system" in principal.scopes.contexts
    return Requester(principal.actor_reference, principal.patient_id, system=system)


_TYPE_ROUTES = (
    ("GET", "search", "search the type"),
    ("POST", "create", "create (conditional with If-None-Exist)"),
    ("PUT", "conditional_update", "conditional update by search criteria"),
    ("PATCH", "conditional_patch", "conditional JSON Patch by search criteria"),
    ("DELETE", "conditional_delete", "conditional delete by search criteria"),
)
_INSTANCE_ROUTES = (
    ("GET", "read", "read the current version"),
    ("HEAD", "read_head", "read, headers only"),
    ("PUT", "update", "update (or create with this id)"),
    ("PATCH", "patch", "JSON Patch"),
    ("DELETE", "delete", "delete"),
)


def _operation_endpoint(path: str, run: Callable[[Request], Awaitable[Response]]) -> Any:
    """An endpoint whose signature declares the path's parameters (for OpenAPI)."""
    if path.count("{") == 1:

        async def system_op(request: Request, operation: str) -> Response:
            return await run(request)

        return system_op
    if path.count("{") == 2:

        async def type_op(request: Request, resource_type: str, operation: str) -> Response:
            return await run(request)

        return type_op

    async def instance_op(
        request: Request, resource_type: str, resource_id: str, operation: str
    ) -> Response:
        return await run(request)

    return instance_op


def build_router(gateway: FhirGateway) -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["FHIR"])

    @router.get("/metadata", summary="CapabilityStatement", operation_id="capabilities")
    async def metadata(request: Request) -> Response:
        check_acceptable(request)
        statement = gateway.capabilities(request)
        return Response(dump_json(statement), media_type=FHIR_JSON)

    @router.post("", summary="batch or transaction Bundle", operation_id="bundle")
    async def bundle(request: Request) -> Response:
        return await gateway(request, "")

    async def operation(request: Request) -> Response:
        return await gateway(request, request.url.path.split("/fhir/", 1)[1])

    for path, level in (
        ("/${operation}", "system"),
        ("/{resource_type:fhirtype}/${operation}", "type"),
        ("/{resource_type:fhirtype}/{resource_id}/${operation}", "instance"),
    ):
        for method in ("GET", "POST"):
            router.add_api_route(
                path,
                _operation_endpoint(path, operation),
                methods=[method],
                operation_id=f"operation_{level}_{method.lower()}",
                summary=f"{level}-level operation ($name)",
            )

    @router.get("/_history", summary="system history", operation_id="history_system")
    async def system_history(request: Request) -> Response:
        return await gateway(request, "_history")

    @router.post(
        "/{resource_type:fhirtype}/_search",
        summary="search with a form body",
        operation_id="search_post",
    )
    async def search(request: Request, resource_type: str) -> Response:
        return await gateway(request, f"{resource_type}/_search")

    @router.get(
        "/{resource_type:fhirtype}/_history", summary="type history", operation_id="history_type"
    )
    async def type_history(request: Request, resource_type: str) -> Response:
        return await gateway(request, f"{resource_type}/_history")

    async def type_level(request: Request, resource_type: str) -> Response:
        return await gateway(request, resource_type)

    for method, operation_id, summary in _TYPE_ROUTES:
        router.add_api_route(
            "/{resource_type:fhirtype}",
            type_level,
            methods=[method],
            operation_id=operation_id,
            summary=summary,
        )

    async def instance(request: Request, resource_type: str, resource_id: str) -> Response:
        return await gateway(request, f"{resource_type}/{resource_id}")

    for method, operation_id, summary in _INSTANCE_ROUTES:
        router.add_api_route(
            "/{resource_type:fhirtype}/{resource_id}",
            instance,
            methods=[method],
            operation_id=operation_id,
            summary=summary,
        )

    @router.get(
        "/{resource_type:fhirtype}/{resource_id}/_history",
        summary="instance history",
        operation_id="history_instance",
    )
    async def instance_history(request: Request, resource_type: str, resource_id: str) -> Response:
        return await gateway(request, f"{resource_type}/{resource_id}/_history")

    @router.get(
        "/{resource_type:fhirtype}/{resource_id}/_history/{version_id}",
        summary="vread",
        operation_id="vread",
    )
    async def vread(
        request: Request, resource_type: str, resource_id: str, version_id: str
    ) -> Response:
        return await gateway(request, f"{resource_type}/{resource_id}/_history/{version_id}")

    return router

"""ASGI wrapper that sends a default bearer token when a request carries none.

Lets clients that know nothing of OAuth (fhirpy, fhirclient, plain httpx) run
against a server that enforces tokens.
"""

from __future__ import annotations

from typing import Any


class DefaultBearer:
    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.header = (b"authorization", f"Bearer {token}".encode())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not any(k == b"authorization" for k, _ in scope["headers"]):
            scope = {**scope, "headers": [*scope["headers"], self.header]}
        await self.app(scope, receive, send)

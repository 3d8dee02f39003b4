"""A thin test helper over an httpx-compatible client for FHIR calls."""

from __future__ import annotations

from typing import Any

import httpx

FHIR_JSON = "application/fhir+json"


class FhirClient:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        params: Any = None,
    ) -> httpx.Response:
        merged = {"Accept": FHIR_JSON}
        if body is not None:
            merged["Content-Type"] = FHIR_JSON
        merged.update(headers or {})
        return self.http.request(
            method,
            f"/fhir/{path.lstrip('/')}".rstrip("/"),
            json=body,
            content=content,
            headers=merged,
            params=params,
        )

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, operations: Any, **kwargs: Any) -> httpx.Response:
        import json

        headers = {"Content-Type": "application/json-patch+json", **kwargs.pop("headers", {})}
        return self.request(
            "PATCH", path, content=json.dumps(operations).encode(), headers=headers, **kwargs
        )

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def create(self, resource: dict[str, Any]) -> dict[str, Any]:
        response = self.post(resource["resourceType"], resource)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

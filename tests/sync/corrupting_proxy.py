"""A loopback HTTP server in front of the Medplum peer that passes every request on and
corrupts chosen resources in the search pages on their way back, as a provider's EHR
that serves some invalid resources among valid ones would."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import httpx

Corruption = Callable[[dict[str, Any]], None]


class CorruptingProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removesuffix("/fhir")
        self.corruptions: dict[str, Corruption] = {}  # "Type/id" -> change made to it
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                answer = httpx.get(
                    proxy.upstream + self.path,
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                    timeout=30,
                )
                data = proxy._rewrite(answer.content)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.origin}/fhir"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _rewrite(self, content: bytes) -> bytes:
        text = content.decode().replace(self.upstream, self.origin)  # next links come here
        try:
            bundle = json.loads(text)
        except ValueError:
            return text.encode()
        for entry in bundle.get("entry") or [] if isinstance(bundle, dict) else []:
            resource = entry.get("resource") or {}
            change = self.corruptions.get(f"{resource.get('resourceType')}/{resource.get('id')}")
            if change is not None:
                change(resource)
        return json.dumps(bundle).encode()

    def __enter__(self) -> CorruptingProxy:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()

"""A small real FHIR-ish peer on a loopback port that can be told to misbehave.

It stores resources by identifier the way a FHIR server's conditional update does
(``PUT [type]?identifier=system|value``: update the match, or create), and before
answering it follows a script of faults per request: an HTTP status with headers,
a delay before answering, or applying the write and then stalling (the request was
processed but the answer never arrives).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Fault:
    status: int | None = None  # answer with this status instead of handling the request
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # wait this long before answering
    apply_first: bool = False  # with delay: store the write, then stall


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class Peer:
    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.resources: dict[str, dict[str, Any]] = {}  # "system|value" -> resource
        self.versions: dict[str, int] = {}
        self.received = threading.Event()
        self.release = threading.Event()  # ends every pending delay at shutdown
        self.lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any = None, headers: Any = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                peer._handle(self, None)

            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                peer._handle(self, self.rfile.read(length))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handle(self, handler: Any, body: bytes | None) -> None:
        with self.lock:
            self.seen.append(Seen(handler.command, handler.path, dict(handler.headers)))
            fault = self.faults.pop(0) if self.faults else Fault()
        self.received.set()
        if fault.status is not None:
            self.release.wait(fault.delay)
            handler._answer(fault.status, {"resourceType": "OperationOutcome"}, fault.headers)
            return
        if not fault.apply_first:
            self.release.wait(fault.delay)
        status, resource, headers = self._apply(handler, body)
        if fault.apply_first:
            self.release.wait(fault.delay)
        handler._answer(status, resource, headers)

    def _apply(self, handler: Any, body: bytes | None) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query)
        identifier = (query.get("identifier") or [""])[0]
        if handler.command != "PUT" or not identifier or body is None:
            return 400, {"resourceType": "OperationOutcome"}, {}
        resource = json.loads(body)
        with self.lock:
            version = self.versions.get(identifier, 0)
            expected = handler.headers.get("If-Match")
            if expected is not None and expected != f'W/"{version}"':
                return 412, {"resourceType": "OperationOutcome"}, {}
            version += 1
            self.versions[identifier] = version
            resource["id"] = f"r{len(self.resources) + (0 if identifier in self.resources else 1)}"
            if identifier in self.resources:
                resource["id"] = self.resources[identifier]["id"]
            resource["meta"] = {"versionId": str(version)}
            self.resources[identifier] = resource
        return (201 if version == 1 else 200), resource, {"ETag": f'W/"{version}"'}

    def __enter__(self) -> Peer:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

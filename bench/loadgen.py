"""Load generator: one process, ``concurrency`` keep-alive connections, httpx.

Run as ``python loadgen.py SPEC.json``; the spec names the requests, the phase times
and the file the raw result is written to (see ``LoadSpec``). Several processes may
share one scenario: they start at the same wall-clock instant (``start_at``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _provide_sniffio() -> None:
    """httpcore imports ``sniffio`` inside every lock it creates (several per request);
    when the package is absent, each failed import scans sys.path, which costs more
    client CPU than the request itself. This process only runs asyncio, so a stub
    that says so is exact."""
    try:
        import sniffio  # noqa: F401
    except ImportError:
        stub = types.ModuleType("sniffio")
        stub.current_async_library = lambda: "asyncio"  # type: ignore[attr-defined]
        sys.modules["sniffio"] = stub


_provide_sniffio()

import httpx  # noqa: E402


@dataclass
class LoadSpec:
    base_url: str
    method: str
    paths: list[str]
    output: str
    bodies_file: str | None = None  # JSON list of strings, cycled with the paths
    headers: dict[str, str] = field(default_factory=dict)
    expect: list[int] = field(default_factory=lambda: [200])
    concurrency: int = 8
    start_at: float = 0.0  # time.time() at which the warm-up starts
    warmup: float = 2.0  # seconds not measured
    duration: float = 10.0  # seconds measured
    warmup_requests: int = 0  # instead of a warm-up time: this many requests not measured
    max_requests: int = 0  # stop after this many measured requests (0: no limit)
    timeout: float = 60.0
    first_index: int = 0  # where this process starts cycling through paths and bodies


@dataclass
class _State:
    next_index: int
    issued: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_sample: str | None = None
    window_start: float | None = None
    window_end: float = 0.0


def _load_bodies(spec: LoadSpec) -> list[bytes]:
    if not spec.bodies_file:
        return []
    texts: list[str] = json.loads(Path(spec.bodies_file).read_text("utf-8"))
    return [text.encode("utf-8") for text in texts]


async def _run(spec: LoadSpec) -> dict[str, Any]:
    bodies = _load_bodies(spec)
    clock_offset = time.time() - time.perf_counter()
    start = spec.start_at - clock_offset if spec.start_at else time.perf_counter()
    warm_end = start + (0.0 if spec.warmup_requests else spec.warmup)
    end = warm_end + spec.duration
    state = _State(next_index=spec.first_index)
    limits = httpx.Limits(
        max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency
    )
    async with httpx.AsyncClient(
        base_url=spec.base_url, limits=limits, timeout=spec.timeout, headers=spec.headers
    ) as client:
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        cpu = {"at_warm_end": time.process_time()}

        async def worker() -> None:
            while True:
                now = time.perf_counter()
                if now >= end:
                    return
                done = len(state.latencies) + state.errors
                if spec.max_requests and done >= spec.max_requests:
                    return
                index = state.next_index
                state.next_index += 1
                state.issued += 1
                measured = (
                    state.issued > spec.warmup_requests if spec.warmup_requests else now >= warm_end
                )
                if measured and state.window_start is None:
                    state.window_start = now
                    cpu["at_warm_end"] = time.process_time()
                path = spec.paths[index % len(spec.paths)]
                body = bodies[index % len(bodies)] if bodies else None
                began = time.perf_counter()
                ok = False
                detail = ""
                try:
                    response = await client.request(spec.method, path, content=body)
                    ok = response.status_code in spec.expect
                    if not ok:
                        detail = f"{response.status_code}: {response.text[:300]}"
                except httpx.HTTPError as exc:
                    detail = f"{type(exc).__name__}: {exc}"
                finished = time.perf_counter()
                if not measured:
                    continue
                if ok:
                    state.latencies.append((finished - began) * 1000.0)
                else:
                    state.errors += 1
                    state.error_sample = state.error_sample or detail
                state.window_end = max(state.window_end, finished)

        await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
        cpu_used = time.process_time() - cpu["at_warm_end"]
    window_start = state.window_start if state.window_start is not None else warm_end
    return {
        "latencies_ms": [round(value, 4) for value in state.latencies],
        "errors": state.errors,
        "error_sample": state.error_sample,
        "window_start": window_start + clock_offset,
        "window_end": max(state.window_end, window_start) + clock_offset,
        "client_cpu_s": cpu_used,
    }


def main(argv: list[str]) -> int:
    spec = LoadSpec(**json.loads(Path(argv[1]).read_text("utf-8")))
    try:
        import uvloop

        result = uvloop.run(_run(spec))
    except ImportError:
        result = asyncio.run(_run(spec))
    Path(spec.output).write_text(json.dumps(result), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""One bounded benchmark run of pgo-service, its ceiling and the fhirstarter peer.

    .venv/bin/python bench/run.py            # full run (about 10 minutes, more on first use)
    .venv/bin/python bench/run.py --quick    # about 2 minutes, smaller data set

Prints a table and writes bench/results/<timestamp>.json and bench/results/latest.json.
See bench/README.md for what each scenario measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import dataset
import datasets
import httpx
import peer_env
from servers import ManagedServer, ServerFailed, free_port, install_cleanup, stop_all

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
LOG_DIR = datasets.CACHE_DIR / "logs"
SPEC_DIR = datasets.WORK_DIR / "specs"
FHIR_JSON = "application/fhir+json"
JSON_HEADERS = {"Accept": FHIR_JSON, "Content-Type": FHIR_JSON}
BENCH_CLIENT = "bench"
BENCH_SCOPE = "system/*.cruds"


def server_headers(server: ManagedServer) -> dict[str, str]:
    headers = dict(JSON_HEADERS)
    if server.token:
        headers["Authorization"] = f"Bearer {server.token}"
    return headers


@dataclass
class Plan:
    sizes: list[int]
    concurrency: int
    client_processes: int
    workers: int  # server processes of ours and of the ceiling (the peer's store is one dict)
    create_workers: int  # create is measured once more with ours in this many (0: not)
    warmup: float
    duration: float
    read_rounds: int  # ours and the ceiling read in this many turns each (see alternate)
    search_warmup: float
    search_duration: float
    transaction_runs: int
    transaction_entries: int
    peer: bool
    peer_budget: float  # seconds of peer start-up and search beyond which larger sizes are skipped
    search_probe_timeout: float  # a search slower than this once is not load-tested

    @property
    def largest(self) -> int:
        return max(self.sizes)


@dataclass
class Measurement:
    name: str
    target: str
    requests: int
    errors: int
    seconds: float
    throughput_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    concurrency: int
    server_cpu: float  # fraction of one core used by the server while measured
    client_cpu: float  # fraction of one core used by the load generators
    server_cpu_ms_per_request: float
    other_cpu: float  # cores used by other processes on the machine while measured (noise)
    error_sample: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def machine_busy_seconds() -> float:
    """CPU seconds (all cores) the machine has spent not idle since boot."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    values = [int(value) for value in fields[:8]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return float("nan")
    rank = max(0, min(len(values) - 1, round(fraction * len(values) + 0.5) - 1))
    return values[rank]


@dataclass
class LoadWindow:
    """What one stretch of load on one server gave, before it is summarised."""

    server: ManagedServer
    latencies: list[float]
    errors: int
    error_sample: str | None
    seconds: float  # from the first load generator's window start to the last one's end
    wall: float  # the server's CPU was read over this many seconds
    server_cpu_s: float
    client_cpu_s: float
    machine_cpu_s: float


def run_load(name: str, server: ManagedServer, *, concurrency: int, **load: Any) -> Measurement:
    """One window of load on ``server`` (``drive``'s arguments), summarised."""
    return summarise(name, concurrency, [drive(name, server, concurrency=concurrency, **load)])


def drive(
    name: str,
    server: ManagedServer,
    *,
    method: str,
    paths: list[str],
    plan: Plan,
    concurrency: int,
    warmup: float,
    duration: float,
    bodies: list[str] | None = None,
    expect: tuple[int, ...] = (200,),
    warmup_requests: int = 0,
    max_requests: int = 0,
    processes: int | None = None,
) -> LoadWindow:
    """One stretch of load on ``server`` from separate load-generator processes."""
    SPEC_DIR.mkdir(parents=True, exist_ok=True)
    processes = max(1, min(processes or plan.client_processes, concurrency))
    bodies_file = None
    if bodies is not None:
        bodies_path = SPEC_DIR / f"{name}.bodies.json"
        bodies_path.write_text(json.dumps(bodies), "utf-8")
        bodies_file = str(bodies_path)
    start_at = time.time() + 1.5
    children: list[tuple[subprocess.Popen[bytes], Path]] = []
    for index in range(processes):
        share = concurrency // processes + (1 if index < concurrency % processes else 0)
        output = SPEC_DIR / f"{name}.{index}.result.json"
        output.unlink(missing_ok=True)
        spec = {
            "base_url": server.base_url,
            "method": method,
            "paths": paths,
            "output": str(output),
            "bodies_file": bodies_file,
            "headers": server_headers(server),
            "expect": list(expect),
            "concurrency": share,
            "start_at": start_at,
            "warmup": warmup,
            "duration": duration,
            "warmup_requests": warmup_requests,
            "max_requests": max_requests,
            "first_index": index * 7919,
        }
        spec_path = SPEC_DIR / f"{name}.{index}.spec.json"
        spec_path.write_text(json.dumps(spec), "utf-8")
        argv = [sys.executable, str(BENCH_DIR / "loadgen.py"), str(spec_path)]
        children.append((subprocess.Popen(argv), output))
    try:
        time.sleep(max(0.0, start_at + (0.0 if warmup_requests else warmup) - time.time()))
        cpu_before, wall_before = server.cpu_seconds(), time.perf_counter()
        busy_before = machine_busy_seconds()
        limit = warmup + duration + 120
        for child, _ in children:
            child.wait(timeout=max(1.0, limit - (time.time() - start_at)))
    except (subprocess.TimeoutExpired, KeyboardInterrupt, SystemExit):
        for child, _ in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        if sys.exc_info()[0] is not subprocess.TimeoutExpired:
            raise
    wall = max(1e-9, time.perf_counter() - wall_before)
    server_cpu_s = server.cpu_seconds() - cpu_before
    machine_cpu_s = machine_busy_seconds() - busy_before
    latencies: list[float] = []
    errors = 0
    error_sample = None
    starts: list[float] = []
    ends: list[float] = []
    client_cpu_s = 0.0
    for _, output in children:
        if not output.exists():
            errors += 1
            error_sample = error_sample or "a load generator did not finish"
            continue
        result = json.loads(output.read_text("utf-8"))
        latencies.extend(result["latencies_ms"])
        errors += result["errors"]
        error_sample = error_sample or result["error_sample"]
        starts.append(result["window_start"])
        ends.append(result["window_end"])
        client_cpu_s += result["client_cpu_s"]
    latencies.sort()
    return LoadWindow(
        server=server,
        latencies=latencies,
        errors=errors,
        error_sample=error_sample,
        seconds=(max(ends) - min(starts)) if starts else 0.0,
        wall=wall,
        server_cpu_s=server_cpu_s,
        client_cpu_s=client_cpu_s,
        machine_cpu_s=machine_cpu_s,
    )


def summarise(name: str, concurrency: int, windows: list[LoadWindow]) -> Measurement:
    """One measurement of one or more windows of the same load on the same server."""
    server = windows[0].server
    latencies = sorted(value for window in windows for value in window.latencies)
    errors = sum(window.errors for window in windows)
    error_sample = next((w.error_sample for w in windows if w.error_sample), None)
    seconds = sum(window.seconds for window in windows)
    wall = max(1e-9, sum(window.wall for window in windows))
    server_cpu = sum(window.server_cpu_s for window in windows) / wall
    machine_cpu = sum(window.machine_cpu_s for window in windows) / wall
    client_cpu_s = sum(window.client_cpu_s for window in windows)
    measurement = Measurement(
        name=name,
        target=server.name,
        requests=len(latencies),
        errors=errors,
        seconds=round(seconds, 3),
        throughput_rps=round(len(latencies) / seconds, 1) if seconds > 0 else 0.0,
        p50_ms=round(percentile(latencies, 0.50), 2),
        p95_ms=round(percentile(latencies, 0.95), 2),
        p99_ms=round(percentile(latencies, 0.99), 2),
        mean_ms=round(sum(latencies) / len(latencies), 2) if latencies else float("nan"),
        max_ms=round(latencies[-1], 2) if latencies else float("nan"),
        concurrency=concurrency,
        server_cpu=round(server_cpu, 2),
        client_cpu=round(client_cpu_s / seconds, 2) if seconds > 0 else 0.0,
        other_cpu=round(max(0.0, machine_cpu - server_cpu - client_cpu_s / wall), 2),
        server_cpu_ms_per_request=(
            round(server_cpu * seconds * 1000 / len(latencies), 3) if latencies else float("nan")
        ),
        error_sample=error_sample,
    )
    if len(windows) > 1:
        measurement.extra["rounds_rps"] = [
            round(len(w.latencies) / w.seconds, 1) if w.seconds > 0 else 0.0 for w in windows
        ]
    print(
        f"  {server.name:<8} {name:<28} {measurement.throughput_rps:>8.1f} req/s  "
        f"p50 {measurement.p50_ms:>8.2f} ms  p95 {measurement.p95_ms:>8.2f} ms  "
        f"p99 {measurement.p99_ms:>8.2f} ms  n={measurement.requests} err={errors}  "
        f"cpu server {measurement.server_cpu:.2f} client {measurement.client_cpu:.2f} "
        f"other {measurement.other_cpu:.2f}",
        flush=True,
    )
    if error_sample:
        print(f"    first error: {error_sample[:300]}", flush=True)
    return measurement


# -- servers ------------------------------------------------------------------


def _service_command() -> list[str]:
    script = Path(sys.executable).with_name("pgo-service")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pgo_service.cli"]


def _service_env(database: Path) -> dict[str, str]:
    return {
        "PGO_DATA_DIR": str(datasets.WORK_DIR),
        "PGO_DATABASE_URL": datasets.sqlite_url(database),
    }


def mint_token(database: Path) -> str | None:
    """A bearer token for a system client, minted with the service's own commands;
    None when this version of the service has no ``token`` command (no auth)."""
    command = _service_command()
    env = {**os.environ, **_service_env(database)}

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *args], env=env, capture_output=True, text=True, timeout=120
        )

    if call("token", "--help").returncode != 0:
        return None
    for step in (
        ("db", "upgrade"),
        (
            "clients",
            "add",
            "--client-id",
            BENCH_CLIENT,
            "--name",
            "Benchmark",
            "--scopes",
            BENCH_SCOPE,
            "--secret",
            "bench-secret-not-used-0123456789",
            "--system",
            "--hostname",
            "bench.invalid",
        ),
    ):
        done = call(*step)
        if done.returncode != 0:
            raise RuntimeError(f"pgo-service {' '.join(step[:2])} failed: {done.stderr[-500:]}")
    output = database.with_name(database.name + ".token")
    done = call(
        "token",
        "--subject",
        "Practitioner/bench",
        "--client",
        BENCH_CLIENT,
        "--scope",
        BENCH_SCOPE,
        "--ttl",
        "86400",
        "--output",
        str(output),
    )
    if done.returncode != 0:
        raise RuntimeError(f"pgo-service token failed: {done.stderr[-500:]}")
    return output.read_text("utf-8").strip()


def ours_server(name: str, database: Path, workers: int = 1) -> ManagedServer:
    command = _service_command()
    token = mint_token(database)
    port = free_port()
    argv = [
        *command,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database-url",
        datasets.sqlite_url(database),
        "--log-level",
        "warning",
        "--workers",
        str(workers),
    ]
    env = _service_env(database)
    server = ManagedServer(name, argv, port=port, ready_path="/readyz", log_dir=LOG_DIR, env=env)
    server.token = token
    return server.start()


def ceiling_server(database: Path, workers: int = 1) -> ManagedServer:
    port = free_port()
    argv = [
        sys.executable,
        str(BENCH_DIR / "ceiling_app.py"),
        "--port",
        str(port),
        "--database-url",
        datasets.sqlite_url(database),
        "--workers",
        str(workers),
    ]
    server = ManagedServer("ceiling", argv, port=port, ready_path="/healthz", log_dir=LOG_DIR)
    return server.start()


def peer_server(python: Path, data: Path, timeout: float) -> ManagedServer:
    port = free_port()
    argv = [
        str(python),
        str(BENCH_DIR / "peer_fhirstarter_app.py"),
        "--port",
        str(port),
        "--preload",
        str(data),
    ]
    env = {"FHIR_SEQUENCE": "R4B", "PYTHONWARNINGS": "ignore"}
    server = ManagedServer(
        "peer", argv, port=port, ready_path="/metadata", log_dir=LOG_DIR, env=env
    )
    return server.start(ready_timeout=timeout)


# -- scenarios ----------------------------------------------------------------


def read_paths(prefix: str, careplans: int) -> list[str]:
    ids = [dataset.patient_id(i) for i in range(dataset.patient_count(careplans))]
    random.Random(1).shuffle(ids)
    return [f"{prefix}/Patient/{pid}" for pid in ids]


def create_bodies() -> list[str]:
    return [json.dumps(dataset.create_body(seed)) for seed in range(64)]


def search_paths(prefix: str, careplans: int) -> dict[str, list[str]]:
    patients = dataset.patient_count(careplans)
    chosen = random.Random(2).sample(range(patients), min(patients, 500))
    return {
        "token": [f"{prefix}/CarePlan?{dataset.token_query()}"],
        "reference": [f"{prefix}/CarePlan?{dataset.reference_query(i)}" for i in chosen],
    }


def probe(server: ManagedServer, path: str, timeout: float, headers: dict[str, str]) -> str | None:
    """Why one request fails or takes longer than ``timeout``; None when it is fine."""
    try:
        with httpx.Client(base_url=server.base_url, timeout=timeout) as client:
            response = client.get(path, headers=headers)
    except httpx.TimeoutException:
        return f"a single request took longer than {timeout:.0f} s"
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if response.status_code != 200:
        return f"{response.status_code}: {response.text[:300]}"
    return None


def not_measured(name: str, server: ManagedServer, problem: str) -> Measurement:
    nan = float("nan")
    print(f"  {server.name:<8} {name:<28} not load-tested: {problem[:200]}", flush=True)
    return Measurement(
        name=name,
        target=server.name,
        requests=0,
        errors=1,
        seconds=0.0,
        throughput_rps=0.0,
        p50_ms=nan,
        p95_ms=nan,
        p99_ms=nan,
        mean_ms=nan,
        max_ms=nan,
        concurrency=1,
        server_cpu=nan,
        client_cpu=nan,
        server_cpu_ms_per_request=nan,
        other_cpu=nan,
        error_sample=problem,
        extra={"not_measured": problem},
    )


def search_scenarios(
    server: ManagedServer, prefix: str, careplans: int, plan: Plan
) -> dict[str, Measurement]:
    """Each search one request at a time; a search that exceeds the probe time once is
    reported as too slow, and the server is restarted to end the runaway query."""
    found: dict[str, Measurement] = {}
    for kind, paths in search_paths(prefix, careplans).items():
        name = f"search-{kind}-{careplans}"
        problem = probe(server, paths[0], plan.search_probe_timeout, server_headers(server))
        if problem is not None:
            found[kind] = not_measured(name, server, problem)
            server.restart()
            continue
        found[kind] = run_load(
            name,
            server,
            method="GET",
            paths=paths,
            plan=plan,
            concurrency=1,
            warmup=plan.search_warmup,
            duration=plan.search_duration,
        )
    return found


def alternate(
    name: str, servers: list[ManagedServer], paths: list[str], plan: Plan
) -> list[Measurement]:
    """GETs of ``paths`` on each server in turn, ``plan.read_rounds`` times, each for its
    share of ``plan.duration``. The machine's speed drifts by a fifth within an hour:
    one stretch on each server would compare the drift along with the servers."""
    windows: list[list[LoadWindow]] = [[] for _ in servers]
    rounds = max(1, plan.read_rounds)
    for turn in range(rounds):
        for server, taken in zip(servers, windows, strict=True):
            taken.append(
                drive(
                    name,
                    server,
                    method="GET",
                    paths=paths,
                    plan=plan,
                    concurrency=plan.concurrency,
                    warmup=plan.warmup if turn == 0 else min(plan.warmup, 1.0),
                    duration=plan.duration / rounds,
                )
            )
    return [summarise(name, plan.concurrency, taken) for taken in windows]


def create_load(
    name: str, server: ManagedServer, prefix: str, expect: tuple[int, ...], plan: Plan
) -> Measurement:
    return run_load(
        name,
        server,
        method="POST",
        paths=[f"{prefix}/Patient"],
        bodies=create_bodies(),
        expect=expect,
        plan=plan,
        concurrency=plan.concurrency,
        warmup=plan.warmup,
        duration=plan.duration,
    )


def transaction_bodies(plan: Plan) -> list[str]:
    rng = random.Random(3)
    count = plan.transaction_runs + 3
    return [
        json.dumps(dataset.transaction_bundle(rng, plan.transaction_entries)) for _ in range(count)
    ]


def run_ours(plan: Plan, results: dict[str, Any]) -> None:
    ours: dict[str, Any] = results["ours"]
    ceiling: dict[str, Any] = results["ceiling"]
    print(f"\n== ours and ceiling on {plan.largest} CarePlans", flush=True)
    database, load_s = datasets.ours_database(plan.largest)
    results["data"]["load_seconds"][str(plan.largest)] = load_s
    results["data"]["database_bytes"][str(plan.largest)] = database.stat().st_size
    paths = read_paths("/fhir", plan.largest)
    ours["workers"] = ceiling["workers"] = plan.workers
    with ours_server("ours", database, plan.workers) as server:
        ours["startup_s"] = round(server.startup_s, 2)
        ours["search"] = {str(plan.largest): search_scenarios(server, "/fhir", plan.largest, plan)}
        with ceiling_server(database, plan.workers) as top:
            ours["read"], ceiling["read"] = alternate("read-by-id", [server, top], paths, plan)
        ours["create"] = create_load("create-patient", server, "/fhir", (201,), plan)
        transaction = run_load(
            f"transaction-{plan.transaction_entries}",
            server,
            method="POST",
            paths=["/fhir"],
            bodies=transaction_bodies(plan),
            plan=plan,
            concurrency=1,
            warmup=0.0,
            duration=600.0,
            warmup_requests=3,
            max_requests=plan.transaction_runs,
        )
        transaction.extra["entries_per_second"] = round(
            transaction.throughput_rps * plan.transaction_entries, 1
        )
        ours["transaction"] = transaction
        ours["rss_mb"] = round(server.rss_mb(), 1)
    if plan.create_workers and plan.create_workers != plan.workers:
        with ours_server("ours-processes", database, plan.create_workers) as server:
            name = f"create-patient-{plan.create_workers}p"
            ours["create_processes"] = create_load(name, server, "/fhir", (201,), plan)
    for size in sorted(plan.sizes):
        if size == plan.largest:
            continue
        print(f"\n== ours on {size} CarePlans", flush=True)
        database, load_s = datasets.ours_database(size)
        results["data"]["load_seconds"][str(size)] = load_s
        results["data"]["database_bytes"][str(size)] = database.stat().st_size
        with ours_server(f"ours-{size}", database) as server:
            server.name = "ours"
            ours["search"][str(size)] = search_scenarios(server, "/fhir", size, plan)


def run_peer(plan: Plan, results: dict[str, Any]) -> None:
    peer: dict[str, Any] = results["peer"]
    python = peer_env.ensure(LOG_DIR / "peer-install.log")
    peer["versions"] = peer_env.versions()
    peer["search"] = {}
    peer["startup_s"] = {}
    peer["skipped_sizes"] = []
    began = time.perf_counter()
    for size in sorted(plan.sizes):
        spent = time.perf_counter() - began
        if spent > plan.peer_budget:
            peer["skipped_sizes"].append(size)
            print(f"\n== peer: {size} skipped (peer budget of {plan.peer_budget:.0f} s spent)")
            continue
        print(f"\n== peer (fhirstarter, dict storage) on {size} CarePlans", flush=True)
        data = datasets.peer_ndjson(size)
        try:
            server = peer_server(python, data, timeout=max(60.0, plan.peer_budget - spent))
        except ServerFailed as exc:
            peer["skipped_sizes"].append(size)
            print(f"  peer did not start: {str(exc)[:500]}", flush=True)
            continue
        with server:
            peer["startup_s"][str(size)] = round(server.startup_s, 2)
            peer["search"][str(size)] = search_scenarios(server, "", size, plan)
            if size == plan.largest:
                peer["read"] = run_load(
                    "read-by-id",
                    server,
                    method="GET",
                    paths=read_paths("", size),
                    plan=plan,
                    concurrency=plan.concurrency,
                    warmup=plan.warmup,
                    duration=plan.duration,
                )
                peer["create"] = create_load("create-patient", server, "", (200, 201), plan)
                peer["rss_mb"] = round(server.rss_mb(), 1)


# -- report -------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_mb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "memory_mb": memory_mb,
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
    }


def our_versions() -> dict[str, str]:
    names = ("pgo-service", "fastapi", "starlette", "uvicorn", "sqlalchemy", "fhir.resources")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "?"
    return found


def git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=BENCH_DIR,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def _get(tree: dict[str, Any], *keys: str) -> Measurement | None:
    node: Any = tree
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, Measurement) else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator or numerator != numerator or denominator != denominator:
        return None
    return round(numerator / denominator, 2)


def comparisons(results: dict[str, Any], plan: Plan) -> list[dict[str, Any]]:
    """The rows of the report: ours against the ceiling or the peer, with the target."""
    ours, ceiling, peer = results["ours"], results["ceiling"], results["peer"]
    rows: list[dict[str, Any]] = []

    def throughput_row(
        label: str,
        mine: Measurement | None,
        other: Measurement | None,
        other_name: str,
        target: float,
    ) -> None:
        ratio = _ratio(
            mine.throughput_rps if mine else None, other.throughput_rps if other else None
        )
        rows.append(
            {
                "scenario": label,
                "ours": mine,
                "other_name": other_name,
                "other": other,
                "metric": "req/s",
                "ratio": ratio,
                "ratio_meaning": "ours/other throughput",
                "target": f">= {target}",
                "met": None if ratio is None else ratio >= target,
            }
        )

    throughput_row("read-by-id", _get(ours, "read"), _get(ceiling, "read"), "ceiling", 0.6)
    throughput_row("read-by-id", _get(ours, "read"), _get(peer, "read"), "peer", 1.0)
    throughput_row("create Patient", _get(ours, "create"), _get(peer, "create"), "peer", 1.0)
    if _get(ours, "create_processes") is not None:
        label = f"create, {plan.create_workers} processes"
        throughput_row(label, _get(ours, "create_processes"), _get(peer, "create"), "peer", 1.0)
    for kind in ("token", "reference"):
        for size in sorted(plan.sizes):
            mine = _get(ours, "search", str(size), kind)
            other = _get(peer, "search", str(size), kind)
            ratio = _ratio(other.p95_ms if other else None, mine.p95_ms if mine else None)
            met = None if mine is None else mine.p95_ms < 20.0
            rows.append(
                {
                    "scenario": f"search {kind} @{size // 1000}k",
                    "ours": mine,
                    "other_name": "peer",
                    "other": other,
                    "metric": "p95 ms",
                    "ratio": ratio,
                    "ratio_meaning": "peer p95 / ours p95 (times faster)",
                    "target": "ours p95 < 20 ms",
                    "met": met,
                }
            )
    transaction = _get(ours, "transaction")
    rows.append(
        {
            "scenario": f"transaction {plan.transaction_entries}",
            "ours": transaction,
            "other_name": "-",
            "other": None,
            "metric": "latency",
            "ratio": None,
            "ratio_meaning": "",
            "target": "",
            "met": None,
        }
    )
    return rows


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.{digits}f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'scenario':<22} {'ours req/s':>10} {'p50':>8} {'p95':>8} {'p99':>8}  "
        f"{'vs':<8} {'req/s':>9} {'p50':>8} {'p95':>8} {'p99':>8}  {'ratio':>6}  "
        f"{'target':<17} {'met':<4}"
    )
    print("\n" + header)
    print("-" * len(header))
    for row in rows:
        mine: Measurement | None = row["ours"]
        other: Measurement | None = row["other"]
        met = {True: "yes", False: "NO", None: ""}[row["met"]]
        print(
            f"{row['scenario']:<22} "
            f"{_fmt(mine.throughput_rps if mine else None):>10} "
            f"{_fmt(mine.p50_ms if mine else None, 2):>8} "
            f"{_fmt(mine.p95_ms if mine else None, 2):>8} "
            f"{_fmt(mine.p99_ms if mine else None, 2):>8}  "
            f"{row['other_name']:<8} "
            f"{_fmt(other.throughput_rps if other else None):>9} "
            f"{_fmt(other.p50_ms if other else None, 2):>8} "
            f"{_fmt(other.p95_ms if other else None, 2):>8} "
            f"{_fmt(other.p99_ms if other else None, 2):>8}  "
            f"{_fmt(row['ratio'], 2):>6}  {row['target']:<17} {met:<4}"
        )
    print(
        "latencies in ms; read and create at the given concurrency, searches and the "
        "transaction one request at a time; search ratio = peer p95 / ours p95"
    )


def print_cpu(results: dict[str, Any]) -> None:
    """Server CPU per request: independent of how much CPU the client took."""
    print("\nserver CPU per request (ms; lower is better) and share of one core while measured")
    for label, key in (("read-by-id", "read"), ("create Patient", "create")):
        cells = []
        for target in ("ours", "ceiling", "peer"):
            found = _get(results[target], key)
            if found is not None:
                cells.append(
                    f"{target} {_fmt(found.server_cpu_ms_per_request, 2)} ms"
                    f" ({_fmt(found.server_cpu, 2)} core, client {_fmt(found.client_cpu, 2)},"
                    f" other {_fmt(found.other_cpu, 2)})"
                )
        print(f"  {label:<16} " + "   ".join(cells))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Measurement):
        return asdict(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, float) and value != value:
        return None
    return value


def write_results(results: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{stamp}.json"
    text = json.dumps(_jsonable(results), indent=2, sort_keys=False)
    path.write_text(text + "\n", "utf-8")
    shutil.copyfile(path, RESULTS_DIR / "latest.json")
    return path


# -- main ---------------------------------------------------------------------


def _cores() -> int:
    return max(1, os.cpu_count() or 1)


def make_plan(args: argparse.Namespace) -> Plan:
    if args.quick:
        plan = Plan(
            sizes=[1_000, 10_000],
            concurrency=8,
            client_processes=2,
            workers=1,
            create_workers=_cores(),
            warmup=1.0,
            duration=4.0,
            read_rounds=2,
            search_warmup=0.5,
            search_duration=3.0,
            transaction_runs=10,
            transaction_entries=100,
            peer=True,
            peer_budget=90.0,
            search_probe_timeout=5.0,
        )
    else:
        plan = Plan(
            sizes=[1_000, 10_000, 100_000],
            concurrency=8,
            client_processes=2,
            workers=1,
            create_workers=_cores(),
            warmup=3.0,
            duration=10.0,
            read_rounds=4,
            search_warmup=1.0,
            search_duration=8.0,
            transaction_runs=30,
            transaction_entries=100,
            peer=True,
            peer_budget=300.0,
            search_probe_timeout=10.0,
        )
    if args.sizes:
        plan.sizes = sorted({int(size) for size in args.sizes.split(",")})
    options = (
        "concurrency",
        "client_processes",
        "workers",
        "create_workers",
        "duration",
        "warmup",
        "read_rounds",
    )
    for name in options:
        if getattr(args, name) is not None:
            setattr(plan, name, getattr(args, name))
    plan.peer = not args.skip_peer
    return plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="about 2 minutes, smaller sizes")
    parser.add_argument("--sizes", help="CarePlan counts, comma separated (default 1k,10k,100k)")
    parser.add_argument("--concurrency", type=int, help="connections for read and create (8)")
    parser.add_argument("--client-processes", type=int, help="load-generator processes (1)")
    parser.add_argument("--workers", type=int, help="server processes of ours and the ceiling (1)")
    parser.add_argument(
        "--create-workers",
        type=int,
        help="create measured once more with ours in this many processes (cores; 0: not)",
    )
    parser.add_argument("--duration", type=float, help="measured seconds per load scenario")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per load scenario")
    parser.add_argument(
        "--read-rounds", type=int, help="turns in which ours and the ceiling read (4; quick 2)"
    )
    parser.add_argument("--skip-peer", action="store_true", help="do not run fhirstarter")
    args = parser.parse_args(argv)
    plan = make_plan(args)
    install_cleanup()
    began = time.perf_counter()
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "machine": machine_info(),
        "plan": asdict(plan),
        "git_commit": git_commit(),
        "versions": our_versions(),
        "data": {
            "cache_key": datasets.cache_key(),
            "loaded_via": "ResourceStore.write in-process, before the servers start",
            "patients_per_size": {str(s): dataset.patient_count(s) for s in plan.sizes},
            "token_query": dataset.token_query(),
            "reference_query": dataset.reference_query(0).replace("p-000000", "<id>"),
            "load_seconds": {},
            "database_bytes": {},
        },
        "ours": {},
        "ceiling": {},
        "peer": {},
    }
    print(
        f"benchmark ({results['mode']}): sizes {plan.sizes}, concurrency {plan.concurrency}, "
        f"{plan.workers} server process(es) for ours and the ceiling"
        + (f", create also with {plan.create_workers}" if plan.create_workers else "")
    )
    try:
        run_ours(plan, results)
        if plan.peer:
            run_peer(plan, results)
    finally:
        stop_all()
    results["comparisons"] = comparisons(results, plan)
    results["elapsed_s"] = round(time.perf_counter() - began, 1)
    print_table(results["comparisons"])
    print_cpu(results)
    path = write_results(results)
    print(f"\nresults: {path.relative_to(BENCH_DIR.parent)} (and results/latest.json)")
    print(f"elapsed: {results['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

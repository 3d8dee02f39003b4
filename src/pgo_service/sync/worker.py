"""Workers: claim a job, run its handler outside any transaction, record the outcome.

A handler gets the claimed job and a context with the guarded HTTP client. It
returns when the job is done, raises ``RetryLater`` for a failure that may pass and
``JobFailed`` for one that will not; any other exception counts as retryable. Because
a worker can die after its call reached the peer but before the result was recorded,
a job may run more than once: handlers must be idempotent (conditional update by
identifier, not create).
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine

from ..config import Settings
from ..db.engine import transaction
from ..db.errors import describe_error, log_failure
from .backoff import backoff_seconds
from .hosts import parse_host_list
from .jobs import ClaimedJob, claim, record_done, record_failure
from .outbound import JobFailed, OutboundClient, RetryLater
from .registry import host_policy

log = logging.getLogger("pgo_service.sync")


def utc_now() -> datetime:
    """Naive UTC, as the tables store instants."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class WorkerConfig:
    lease: timedelta
    backoff_base: float
    backoff_cap: float
    retry_after_cap: float
    http_timeout: float
    poll_seconds: float
    extra_hosts: frozenset[str]
    dev_mode: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        return cls(
            lease=timedelta(seconds=settings.sync_lease_seconds),
            backoff_base=settings.sync_backoff_base_seconds,
            backoff_cap=settings.sync_backoff_cap_seconds,
            retry_after_cap=settings.sync_retry_after_cap_seconds,
            http_timeout=settings.sync_http_timeout_seconds,
            poll_seconds=settings.sync_poll_seconds,
            extra_hosts=parse_host_list(settings.sync_allowed_hosts),
            dev_mode=settings.dev_mode,
        )


@dataclass
class JobContext:
    engine: Engine
    http: OutboundClient
    clock: Callable[[], datetime]


Handler = Callable[[ClaimedJob, JobContext], None]


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    def __init__(
        self,
        engine: Engine,
        handlers: Mapping[str, Handler],
        config: WorkerConfig,
        *,
        name: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        from .hosts import HostPolicy

        self.engine = engine
        self.handlers = dict(handlers)
        self.config = config
        self.name = name or worker_id()
        self.clock = clock
        self.rng = rng or random.Random()
        self.http = OutboundClient(
            HostPolicy((), dev_mode=config.dev_mode),
            timeout=config.http_timeout,
            transport=transport,
        )

    def _retry_at(self, job: ClaimedJob, retry_after: float | None) -> datetime:
        if retry_after is not None:
            delay = min(retry_after, self.config.retry_after_cap)
        else:
            delay = backoff_seconds(
                job.attempt,
                base=self.config.backoff_base,
                cap=self.config.backoff_cap,
                rng=self.rng,
            )
        return self.clock() + timedelta(seconds=delay)

    def run_once(self) -> bool:
        """Claim and run one due job; ``False`` when there was none."""
        jobs = claim(
            self.engine, self.name, self.handlers, now=self.clock(), lease=self.config.lease
        )
        if not jobs:
            return False
        job = jobs[0]
        with transaction(self.engine, write=False) as conn:
            self.http.policy = host_policy(
                conn, self.config.extra_hosts, dev_mode=self.config.dev_mode
            )
        context = JobContext(self.engine, self.http, self.clock)
        try:
            self.handlers[job.kind](job, context)
        except RetryLater as exc:
            status = record_failure(
                self.engine,
                job,
                str(exc),
                now=self.clock(),
                retry_at=self._retry_at(job, exc.retry_after),
            )
            log.info("job %s (%s) attempt %s: %s -> %s", job.id, job.kind, job.attempt, exc, status)
        except JobFailed as exc:
            record_failure(self.engine, job, str(exc), now=self.clock(), retry_at=None)
            log.warning("job %s (%s) failed: %s", job.id, job.kind, exc)
        except Exception as exc:
            log_failure(log, "job %s (%s) raised", job.id, job.kind, exc=exc)
            record_failure(
                self.engine,
                job,
                describe_error(exc),  # shown by `sync status`: no values of any row
                now=self.clock(),
                retry_at=self._retry_at(job, None),
            )
        else:
            if not record_done(self.engine, job, now=self.clock()):
                log.warning("job %s finished after it was cancelled or claimed again", job.id)
        return True

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; a job in hand is finished first."""
        while not stop.is_set():
            try:
                worked = self.run_once()
            except Exception as exc:
                log_failure(log, "worker %s: claiming or recording failed", self.name, exc=exc)
                worked = False
            if not worked:
                stop.wait(self.config.poll_seconds)

    def close(self) -> None:
        self.http.close()


class WorkerThreads:
    """Workers on threads of this process (SQLite's in-process worker, and
    ``pgo-service worker --threads N``)."""

    def __init__(
        self, engine: Engine, handlers: Mapping[str, Handler], config: WorkerConfig, count: int = 1
    ) -> None:
        self.stop_event = threading.Event()
        self.workers = [Worker(engine, handlers, config) for _ in range(count)]
        self.threads = [
            threading.Thread(
                target=w.run, args=(self.stop_event,), name=f"sync-worker-{i}", daemon=True
            )
            for i, w in enumerate(self.workers)
        ]

    def start(self) -> WorkerThreads:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout)
        for worker in self.workers:
            worker.close()


def default_handlers() -> dict[str, Handler]:
    """The job kinds this version of the service runs."""
    return {}

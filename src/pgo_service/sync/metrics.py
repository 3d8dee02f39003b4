"""The outbox's metrics in the Prometheus text exposition format (version 0.0.4)."""

from __future__ import annotations

from datetime import datetime

from .jobs import STATUSES, OutboxStatus

_COUNTERS = {
    "done": "jobs that succeeded",
    "retried": "failed attempts that will be tried again",
    "dead": "jobs given up (dead-letter)",
    "lease_expired": "claims whose worker went silent, so the job was claimed again",
    "stale_result": "outcomes not recorded because the job was cancelled or claimed again",
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(status: OutboxStatus, now: datetime) -> str:
    lines = [
        "# HELP pgo_sync_jobs Jobs in the outbox, by kind and status.",
        "# TYPE pgo_sync_jobs gauge",
    ]
    for kind in sorted(status.counts):
        for state in STATUSES:
            value = status.counts[kind].get(state, 0)
            lines.append(f'pgo_sync_jobs{{kind="{_label(kind)}",status="{state}"}} {value}')
    lines += [
        "# HELP pgo_sync_oldest_queued_seconds How long the longest-waiting due job has waited.",
        "# TYPE pgo_sync_oldest_queued_seconds gauge",
    ]
    waited = 0.0
    if status.oldest_due is not None:
        waited = max((now - status.oldest_due).total_seconds(), 0.0)
    lines.append(f"pgo_sync_oldest_queued_seconds {waited:.3f}")
    for name, help_text in _COUNTERS.items():
        metric = f"pgo_sync_{name}_total"
        lines += [f"# HELP {metric} {help_text.capitalize()}.", f"# TYPE {metric} counter"]
        for kind in sorted(status.counters):
            value = status.counters[kind].get(name, 0)
            lines.append(f'{metric}{{kind="{_label(kind)}"}} {value}')
    return "\n".join(lines) + "\n"

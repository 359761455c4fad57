"""Periodic sweeps the worker runs by itself (no cron needed).

Apps register idempotent jobs that take the clock as an argument:
``register_sweep("name", job)`` where ``job(*, now) -> int``. ``manage.py run_worker``
calls every registered job each ``PORTICO_SWEEP_INTERVAL`` seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

logger = logging.getLogger(__name__)

SWEEPS: dict[str, Callable[..., int]] = {}


def register_sweep(name: str, job: Callable[..., int]) -> None:
    SWEEPS[name] = job


def run_sweeps(*, now: datetime) -> dict[str, int]:
    """Run every registered sweep once; a failing sweep is logged and does not stop the
    others. Returns what each sweep reported."""
    results: dict[str, int] = {}
    for name, job in SWEEPS.items():
        try:
            results[name] = job(now=now)
        except Exception:
            logger.exception("sweep %s failed", name)
            results[name] = -1
    return results

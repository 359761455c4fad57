"""Durations written as settings: ``30d``, ``72h``, ``15m``, ``90s`` (or plain seconds)."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str) -> timedelta:
    """``"30d"`` → 30 days. Raises ValueError naming the value when it is not a duration."""
    match = _DURATION.match(str(value).lower())
    if not match:
        raise ValueError(f"{value!r} is not a duration; write e.g. 30d, 72h, 15m or 90s.")
    number, unit = match.groups()
    return timedelta(seconds=int(number) * _SECONDS[unit])

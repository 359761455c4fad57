"""Rate limits on anything a stranger can call.

Limits are named in ``settings.PORTICO_RATE_LIMITS`` as ``"count/period"`` (period in
``s``, ``m``, ``h`` or ``d``, optionally with a number: ``"5/15m"``) and enforced with a
fixed window in the cache. Settings are read at call time.
"""

from __future__ import annotations

import hashlib
import re
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import ngettext

from portico.core.errors import RateLimited

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")


def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/m"`` → ``(10, 60)``; ``"5/15m"`` → ``(5, 900)``."""
    match = _RATE.match(rate)
    if not match:
        raise ValueError(f"Invalid rate {rate!r}; expected e.g. '10/m' or '5/15m'.")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * _UNITS[unit]


def client_ip(request: HttpRequest) -> str:
    """The caller's address: the connection's, or behind a reverse proxy the one the
    proxy passes in ``PORTICO_TRUSTED_PROXY_HEADER`` (a ``request.META`` key). Of a
    list (``X-Forwarded-For: <what the client sent>, <what the proxy saw>``) the last
    address counts: the earlier ones are whatever the client wrote."""
    header = settings.PORTICO_TRUSTED_PROXY_HEADER
    if header and (value := request.META.get(header, "").split(",")[-1].strip()):
        return value
    return request.META.get("REMOTE_ADDR", "unknown")


def check_rate(name: str, key: str) -> None:
    """Count one attempt of ``name`` for ``key``; raise :class:`RateLimited` (code
    ``rate_limited``, with ``retry_after`` seconds) once the limit is exceeded."""
    limit, period = parse_rate(settings.PORTICO_RATE_LIMITS[name])
    window = int(time.time() // period)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]  # keys may hold addresses
    cache_key = f"rl:{name}:{window}:{digest}"
    cache.add(cache_key, 0, timeout=period + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # evicted between add and incr
        cache.set(cache_key, 1, timeout=period + 1)
        count = 1
    if count > limit:
        retry_after = period - int(time.time()) % period
        raise RateLimited(
            ngettext(
                "Too many attempts. Please try again in %(seconds)s second.",
                "Too many attempts. Please try again in %(seconds)s seconds.",
                retry_after,
            )
            % {"seconds": retry_after},
            retry_after=retry_after,
        )

"""Reads of accounts."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models.functions import Lower

from portico.accounts.models import User

# SQLite allows 32766 bound parameters; stay well below for any backend.
_CHUNK = 5000


def users_by_emails(emails: Iterable[str]) -> dict[str, User]:
    """Registered users for the given addresses, keyed by lower-cased address, in one
    query per 5,000 addresses (whatever the case they were typed in)."""
    wanted = sorted({e.strip().lower() for e in emails if e and e.strip()})
    found: dict[str, User] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        for user in User.objects.annotate(email_lower=Lower("email")).filter(email_lower__in=chunk):
            found[user.email.lower()] = user
    return found

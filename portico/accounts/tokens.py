"""Signed email-verification tokens: stateless, expiring, bound to the address."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing

from portico.accounts.models import User

_SALT = "portico.accounts.email-verification"


def make_verification_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "e": user.email.lower()}, salt=_SALT, compress=True)


def read_verification_token(token: str) -> tuple[int, str] | None:
    """``(user id, email)`` for a valid, unexpired token; None otherwise."""
    max_age = timedelta(days=settings.PORTICO_EMAIL_VERIFICATION_TTL_DAYS)
    try:
        data = signing.loads(token, salt=_SALT, max_age=max_age)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    return int(data["u"]), str(data["e"])

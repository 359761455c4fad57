"""Invitation tokens: typable, checkable, unguessable, and never stored in clear.

A token is 13 random-looking characters plus one check character, from Crockford's
base-32 alphabet (no I, L, O or U, so nothing looks alike), shown in groups of four:
``7KQ2-M9XD-4HTB-RW``. People may type it in any case, with or without spaces and
dashes, and with O for 0 or I/L for 1. The check character (Luhn mod 32) catches any
single mistyped character and most swapped pairs before the database is asked.

Storage: an invitation keeps a random ``nonce``; the token is HMAC(key, nonce), so the
database alone never yields a working token, while the server (which holds the key,
``PORTICO_TOKEN_KEY``, by default SECRET_KEY) can show it to admins and export it.
Lookups go through ``lookup_hash(token)``, an HMAC of the normalised token with the
same key: without the key, even the stored hashes cannot be used to test guesses.
13 characters carry 65 bits; guessing is further slowed by rate limits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
# Crockford's decoding of look-alikes.
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
BODY_LENGTH = 13
LENGTH = BODY_LENGTH + 1


def new_nonce() -> str:
    return secrets.token_hex(16)


def _key() -> bytes:
    return (getattr(settings, "PORTICO_TOKEN_KEY", "") or settings.SECRET_KEY).encode()


def check_character(body: str) -> str:
    """Luhn mod N (N = 32) over ``body``: detects every single substitution."""
    factor, total, n = 2, 0, len(ALPHABET)
    for char in reversed(body):
        addend = factor * _VALUE[char]
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def token_for_nonce(nonce: str, *, key: bytes | None = None) -> str:
    """The canonical token (no dashes, upper case) of an invitation's nonce. Loops over
    many nonces pass ``key`` (from :func:`current_key`) to read the setting once."""
    digest = hmac.digest(key or _key(), nonce.encode(), "sha256")
    number = int.from_bytes(digest[:9], "big")  # 72 bits, of which 65 are used
    body = "".join([ALPHABET[(number >> shift) & 31] for shift in _SHIFTS])
    return body + check_character(body)


_SHIFTS = tuple(5 * i for i in range(BODY_LENGTH))


def current_key() -> bytes:
    return _key()


def normalize(raw: str) -> str:
    """Upper case, no spaces or dashes, look-alikes mapped to their digits."""
    return "".join(ch for ch in (raw or "").upper() if ch not in " -_.\t\n").translate(_ALIASES)


def is_well_formed(canonical: str) -> bool:
    """Right length, right alphabet, right check character."""
    return (
        len(canonical) == LENGTH
        and all(ch in _VALUE for ch in canonical)
        and check_character(canonical[:-1]) == canonical[-1]
    )


def lookup_hash(canonical: str, *, key: bytes | None = None) -> str:
    """What the database stores to find a token: keyed (HMAC), so that a copy of the
    database cannot be used to test guesses offline; only the server can."""
    return hmac.new(key or _key(), b"lookup:" + canonical.encode(), hashlib.sha256).hexdigest()


def display(canonical: str) -> str:
    """``7KQ2M9XD4HTBRW`` → ``7KQ2-M9XD-4HTB-RW``: easier to read aloud and to type."""
    return "-".join(canonical[i : i + 4] for i in range(0, len(canonical), 4))

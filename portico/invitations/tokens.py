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
import os
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


# Luhn mod 32 by table: reading from the right, characters alternate between counting
# twice (the sum of the two base-32 digits of 2v) and once (v).
_TWICE = {c: (2 * v) // 32 + (2 * v) % 32 for c, v in _VALUE.items()}
_ONCE = dict(_VALUE)


def check_character(body: str) -> str:
    """Luhn mod N (N = 32) over ``body``: detects every single substitution."""
    total = sum(map(_TWICE.__getitem__, body[::-1][::2])) + sum(
        map(_ONCE.__getitem__, body[::-1][1::2])
    )
    return ALPHABET[-total % 32]


class _KeyedHash:
    """HMAC-SHA256 (RFC 2104) with the key's inner and outer states computed once.

    Equal to ``hmac.digest(key, message, "sha256")``; for many messages under one key
    it costs a quarter as much, because the standard function starts from the key on
    every call."""

    def __init__(self, key: bytes):
        if len(key) > 64:  # SHA-256's block size; longer keys are hashed first
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


# Two base-32 digits per 10 bits, the least significant first, and what the pair adds
# to the Luhn sum: in a 13-character body the first of each pair counts twice.
_PAIRS = [ALPHABET[i & 31] + ALPHABET[i >> 5] for i in range(1024)]
_PAIR_SUMS = [_TWICE[pair[0]] + _ONCE[pair[1]] for pair in _PAIRS]


def _token(digest: bytes) -> str:
    """The token of an HMAC digest: the low 65 bits of its first 9 bytes in base 32,
    least significant digit first, then the check character."""
    n = int.from_bytes(digest[:9], "big")
    p0, p1, p2 = n & 1023, (n >> 10) & 1023, (n >> 20) & 1023
    p3, p4, p5 = (n >> 30) & 1023, (n >> 40) & 1023, (n >> 50) & 1023
    last = ALPHABET[(n >> 60) & 31]
    total = (
        _PAIR_SUMS[p0]
        + _PAIR_SUMS[p1]
        + _PAIR_SUMS[p2]
        + _PAIR_SUMS[p3]
        + _PAIR_SUMS[p4]
        + _PAIR_SUMS[p5]
        + _TWICE[last]
    )
    body = _PAIRS[p0] + _PAIRS[p1] + _PAIRS[p2] + _PAIRS[p3] + _PAIRS[p4] + _PAIRS[p5] + last
    return body + ALPHABET[-total % 32]


def token_for_nonce(nonce: str, *, key: bytes | None = None) -> str:
    """The canonical token (no dashes, upper case) of an invitation's nonce. Loops over
    many nonces pass ``key`` (from :func:`current_key`) to read the setting once."""
    return _token(hmac.digest(key or _key(), nonce.encode(), "sha256"))


def new_tokens(count: int, *, key: bytes) -> list[tuple[str, str]]:
    """``count`` fresh ``(nonce, lookup hash)`` pairs, for creating many invitations
    (the same values as :func:`new_nonce`, :func:`token_for_nonce` and
    :func:`lookup_hash`, computed faster)."""
    keyed = _KeyedHash(key)
    randomness = os.urandom(16 * count).hex()
    pairs = []
    for start in range(0, 32 * count, 32):
        nonce = randomness[start : start + 32]
        token = _token(keyed.digest(nonce.encode()))
        pairs.append((nonce, keyed.digest(b"lookup:" + token.encode()).hex()))
    return pairs


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
    return hmac.digest(key or _key(), b"lookup:" + canonical.encode(), "sha256").hex()


def display(canonical: str) -> str:
    """``7KQ2M9XD4HTBRW`` → ``7KQ2-M9XD-4HTB-RW``: easier to read aloud and to type."""
    return "-".join(canonical[i : i + 4] for i in range(0, len(canonical), 4))

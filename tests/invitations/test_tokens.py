"""Invitation tokens: typable, checkable, unguessable, and never stored in clear."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from portico.core.models import AuditEvent
from portico.invitations import tokens
from portico.invitations.models import Invitation

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DISPLAY = re.compile(
    r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{2}$"
)

nonces = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)


def test_the_alphabet_is_crockfords_without_look_alikes():
    assert tokens.ALPHABET == CROCKFORD
    assert not set("ILOU") & set(tokens.ALPHABET)


@given(nonce=nonces)
def test_a_token_is_fourteen_crockford_characters_with_a_valid_check(nonce):
    token = tokens.token_for_nonce(nonce)
    assert len(token) == 14
    assert set(token) <= set(CROCKFORD)
    assert tokens.is_well_formed(token)


@given(nonce=nonces)
def test_a_token_is_shown_in_groups_of_four(nonce):
    token = tokens.token_for_nonce(nonce)
    shown = tokens.display(token)
    assert DISPLAY.match(shown), shown
    assert shown.replace("-", "") == token


def test_display_groups_a_known_token():
    assert tokens.display("7KQ2M9XD4HTBRW") == "7KQ2-M9XD-4HTB-RW"


@given(nonce=nonces, data=st.data())
def test_normalisation_ignores_case_spaces_and_dashes(nonce, data):
    token = tokens.token_for_nonce(nonce)
    typed = []
    for char in token:
        typed.append(data.draw(st.sampled_from([char, char.lower()])))
        typed.append(data.draw(st.sampled_from(["", " ", "-", " - ", "  "])))
    assert tokens.normalize("".join(typed)) == token


def test_normalisation_maps_look_alikes_to_their_digits():
    assert tokens.normalize("o O i I l L") == "001111"
    assert tokens.normalize(" 7kq2-m9xd 4htb-rw ") == "7KQ2M9XD4HTBRW"


@given(nonce=nonces)
def test_a_token_typed_with_look_alikes_still_checks(nonce):
    token = tokens.token_for_nonce(nonce)
    typed = token.replace("0", "o").replace("1", "l")
    assert tokens.is_well_formed(tokens.normalize(typed))
    assert tokens.normalize(typed) == token


@given(
    nonce=nonces,
    position=st.integers(min_value=0, max_value=13),
    replacement=st.sampled_from(CROCKFORD),
)
def test_every_single_character_substitution_fails_the_check(nonce, position, replacement):
    token = tokens.token_for_nonce(nonce)
    if token[position] == replacement:
        replacement = CROCKFORD[(CROCKFORD.index(replacement) + 1) % 32]
    mistyped = token[:position] + replacement + token[position + 1 :]
    assert not tokens.is_well_formed(mistyped)


def test_every_single_character_substitution_of_one_token_fails_exhaustively():
    token = tokens.token_for_nonce("0" * 32)
    for position in range(14):
        for replacement in CROCKFORD:
            if replacement == token[position]:
                continue
            mistyped = token[:position] + replacement + token[position + 1 :]
            assert not tokens.is_well_formed(mistyped), (position, replacement)


@pytest.mark.parametrize(
    "candidate",
    ["", "7KQ2M9XD4HTBR", "7KQ2M9XD4HTBRWX", "7KQ2M9XD4HTBRU", "7KQ2M9XD4HTB!W"],
    ids=["empty", "too short", "too long", "U is not in the alphabet", "punctuation"],
)
def test_malformed_shapes_are_not_well_formed(candidate):
    assert not tokens.is_well_formed(candidate)


def test_tokens_carry_at_least_sixty_random_bits():
    assert tokens.BODY_LENGTH * 5 >= 60
    assert tokens.LENGTH == tokens.BODY_LENGTH + 1
    # Every body character takes every value of the alphabet over many nonces: the body
    # is random material, not padding or a fixed prefix.
    seen: list[set[str]] = [set() for _ in range(tokens.BODY_LENGTH)]
    for n in range(2000):
        token = tokens.token_for_nonce(f"{n:032x}")
        for position, char in enumerate(token[: tokens.BODY_LENGTH]):
            seen[position].add(char)
    assert all(len(chars) == 32 for chars in seen), [len(c) for c in seen]


def test_different_nonces_give_different_tokens():
    generated = {tokens.token_for_nonce(tokens.new_nonce()) for _ in range(5000)}
    assert len(generated) == 5000


def test_a_nonce_is_random_and_long():
    nonces_made = {tokens.new_nonce() for _ in range(100)}
    assert len(nonces_made) == 100
    assert all(len(n) == 32 for n in nonces_made)


@given(nonce=nonces)
def test_the_token_depends_on_the_key(nonce):
    with override_settings(PORTICO_TOKEN_KEY="first key"):
        first = tokens.token_for_nonce(nonce)
    with override_settings(PORTICO_TOKEN_KEY="second key"):
        second = tokens.token_for_nonce(nonce)
    assert first != second


def test_without_a_token_key_the_secret_key_is_used():
    with override_settings(PORTICO_TOKEN_KEY="", SECRET_KEY="s" * 50):
        from_secret = tokens.token_for_nonce("a" * 32)
    with override_settings(PORTICO_TOKEN_KEY="s" * 50):
        from_key = tokens.token_for_nonce("a" * 32)
    assert from_secret == from_key


def test_the_database_holds_only_the_nonce_and_a_hash_of_the_token(invite):
    invitation = invite("jane@x.example")
    token = invitation.token
    stored = Invitation.objects.filter(pk=invitation.pk).values().get()
    # The hash is keyed: a copy of the database cannot test guesses against it.
    assert stored["token_hash"] == tokens.lookup_hash(token)
    assert stored["token_hash"] != hashlib.sha256(token.encode()).hexdigest()
    with override_settings(PORTICO_TOKEN_KEY="another key"):
        assert tokens.lookup_hash(token) != stored["token_hash"]
    assert tokens.token_for_nonce(stored["token_nonce"]) == token
    for value in stored.values():
        assert token not in str(value)
        assert tokens.display(token) not in str(value)
    # Nor does the audit log of its creation show it.
    for event in AuditEvent.objects.all():
        assert token not in str(event.details)
        assert token not in event.target_repr


def test_changing_the_token_key_changes_every_working_token(invite):
    invitation = invite("jane@x.example")
    before = invitation.token
    with override_settings(PORTICO_TOKEN_KEY="a brand new key"):
        after = Invitation.objects.get(pk=invitation.pk).token
    assert before != after
    # The stored hash belongs to the old token only: the new one finds nothing.
    assert tokens.lookup_hash(before) == invitation.token_hash
    assert tokens.lookup_hash(after) != invitation.token_hash


def _reference_token(nonce: str, key: bytes) -> str:
    """The token algorithm written plainly: HMAC-SHA256 of the nonce; its first 9
    bytes as a number; 13 base-32 digits from the least significant; Luhn mod 32."""
    import hmac

    number = int.from_bytes(hmac.digest(key, nonce.encode(), "sha256")[:9], "big")
    body = "".join(CROCKFORD[(number >> (5 * i)) & 31] for i in range(13))
    factor, total = 2, 0
    for char in reversed(body):
        addend = factor * CROCKFORD.index(char)
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    return body + CROCKFORD[(32 - total % 32) % 32]


# Tokens issued before: an invitation's token must never change.
ISSUED = [
    ("df1b9d8eed0891ee8159917b8adc5397", "RXV4G19B8D5XCW"),
    ("f7381a9cf0124f3ae7a981e704af7fe0", "YRV2TDDVC7DHHE"),
    ("e25f16d127c94530150b81956d59eb66", "AX2F4T2GSWDPWE"),
]


@pytest.mark.parametrize(("nonce", "token"), ISSUED)
def test_tokens_already_issued_stay_the_same(nonce, token):
    assert tokens.token_for_nonce(nonce, key=b"k") == token


@given(nonce=nonces, key=st.binary(min_size=1, max_size=100))
def test_the_token_follows_its_plainly_written_algorithm(nonce, key):
    assert tokens.token_for_nonce(nonce, key=key) == _reference_token(nonce, key)


@given(body=st.text(alphabet=CROCKFORD, min_size=13, max_size=13))
def test_the_check_character_makes_a_well_formed_token(body):
    assert tokens.is_well_formed(body + tokens.check_character(body))


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"y" * 65, b"z" * 100])
def test_tokens_made_in_bulk_match_one_by_one(key):
    made = tokens.new_tokens(200, key=key)
    assert len({nonce for nonce, _hash in made}) == 200
    for nonce, lookup in made:
        assert re.fullmatch(r"[0-9a-f]{32}", nonce)
        assert lookup == tokens.lookup_hash(tokens.token_for_nonce(nonce, key=key), key=key)


def test_the_lookup_hash_is_hmac_sha256_of_the_token():
    import hmac

    token = ISSUED[0][1]
    expected = hmac.new(b"k", b"lookup:" + token.encode(), hashlib.sha256).hexdigest()
    assert tokens.lookup_hash(token, key=b"k") == expected

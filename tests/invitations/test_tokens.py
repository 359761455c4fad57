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

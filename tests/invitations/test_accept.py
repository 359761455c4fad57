"""Accepting an invitation: opening changes nothing, submitting creates the account with
everything the invitation promised, once, and every token problem has its own answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from portico.accounts.models import User
from portico.core.errors import ApplicationError
from portico.core.models import AuditEvent
from portico.groups.models import Membership
from portico.invitations import tokens
from portico.invitations.models import Invitation
from portico.invitations.services.accept import invitation_accept
from portico.invitations.services.create import (
    InviteOptions,
    InviteRow,
    invitation_create_batch,
    parse_typed_emails,
)
from portico.projects.models import Project
from tests.concurrency import at_once
from tests.conftest import PASSWORD, make_user
from tests.invitations.conftest import audit_verbs

FORM = {"first_name": "Jane", "last_name": "Doe", "password": PASSWORD}


def page(invitation_or_token) -> str:
    token = getattr(invitation_or_token, "token", invitation_or_token)
    return reverse("invitations:accept", kwargs={"token": token})


def api(token: str, suffix: str = "") -> str:
    return f"/api/v1/invites/{token}{suffix}"


def accept(invitation: Invitation, **fields) -> User:
    return invitation_accept(token=invitation.token, **{**FORM, **fields})


def unknown_token() -> str:
    """Well formed (right check character) but belonging to no invitation."""
    return tokens.token_for_nonce(tokens.new_nonce())


def mistyped(token: str) -> str:
    replacement = "X" if token[3] != "X" else "Y"
    return token[:3] + replacement + token[4:]


def expire(invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def problem_code(response) -> str:
    marker = 'data-testid="problem-code" data-code="'
    content = response.content.decode()
    assert marker in content, content[:500]
    return content.split(marker, 1)[1].split('"', 1)[0]


# The service.


def test_acceptance_creates_the_account_with_everything_the_invitation_promised(
    invite, neighbours, staff, garden
):
    invitation = invite(
        "Jane@X.example",
        language="nl-be",
        is_admin=True,
        moderator=True,
        project_ids=[garden.pk],
        group_ids=[neighbours.pk, staff.pk],
    )
    user = accept(invitation, first_name=" Jane ", last_name=" Doe ")
    assert user.email == "Jane@x.example"
    assert (user.first_name, user.last_name) == ("Jane", "Doe")
    assert user.email_verified
    assert user.language == "nl-BE"
    assert user.is_admin
    assert user.check_password(PASSWORD)
    assert list(Membership.objects.filter(user=user).values_list("group", flat=True)) == [
        neighbours.pk
    ]  # the smart group follows its rules: nobody is added by hand
    assert list(user.moderated_projects.all()) == [garden]
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    assert invitation.accepted_user == user
    assert invitation.accepted_at is not None
    assert audit_verbs(invitation)[-1] == "invitation.accepted"
    assert AuditEvent.objects.get(verb="invitation.accepted").actor == user


def test_acceptance_without_rights_gives_a_plain_resident(invite):
    user = accept(invite("jane@x.example"))
    assert not user.is_admin
    assert not user.moderated_projects.exists()
    assert not Membership.objects.filter(user=user).exists()


def test_the_token_may_be_typed_in_any_case_with_dashes_and_spaces(invite):
    invitation = invite("jane@x.example")
    typed = " " + invitation.token_display.lower().replace("-", " - ") + " "
    user = invitation_accept(token=typed, **FORM)
    assert user.email == "jane@x.example"


def test_a_code_without_email_needs_an_address_at_acceptance(make_code):
    code = make_code()
    for missing in (None, "", "not an address"):
        with pytest.raises(ApplicationError) as caught:
            accept(code, email=missing)
        assert caught.value.code == "invalid_email"
    assert not User.objects.filter(first_name="Jane").exists()
    user = accept(code, email="jane@X.example")
    assert user.email == "jane@x.example"
    assert user.email_verified
    code.refresh_from_db()
    assert code.status == Invitation.Status.ACCEPTED
    assert code.email == "jane@x.example"


def test_an_address_given_for_an_invitation_with_its_own_address_is_ignored(invite):
    user = accept(invite("jane@x.example"), email="mallory@x.example")
    assert user.email == "jane@x.example"
    assert not User.objects.filter(email="mallory@x.example").exists()


def test_a_code_used_with_an_address_that_has_a_pending_invitation_is_refused(invite, make_code):
    pending = invite("jane@x.example", is_admin=True)
    code = make_code()
    with pytest.raises(ApplicationError) as caught:
        accept(code, email="JANE@x.example")
    assert caught.value.code == "invitation_pending"
    assert caught.value.status == 409
    assert not User.objects.filter(email__iexact="jane@x.example").exists()
    code.refresh_from_db()
    pending.refresh_from_db()
    assert code.status == pending.status == Invitation.Status.PENDING


def test_a_code_used_with_a_registered_address_is_refused(make_code, resident):
    code = make_code(is_admin=True)
    with pytest.raises(ApplicationError) as caught:
        accept(code, email=resident.email)
    assert caught.value.code == "email_taken"
    resident.refresh_from_db()
    assert not resident.is_admin


def test_a_weak_password_is_refused_and_changes_nothing(invite):
    invitation = invite("jane@x.example")
    with pytest.raises(ApplicationError) as caught:
        accept(invitation, password="123")
    assert caught.value.code == "invalid_password"
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING
    assert not User.objects.filter(email="jane@x.example").exists()


@pytest.mark.parametrize(
    ("state", "code", "status"),
    [
        ("mistyped", "token_mistyped", 422),
        ("unknown", "token_not_found", 404),
        ("expired", "invitation_expired", 410),
        ("accepted", "invitation_already_accepted", 409),
    ],
)
def test_the_service_names_each_token_problem(invite, state, code, status):
    invitation = invite("jane@x.example")
    token = token_in_state(invitation, state)
    with pytest.raises(ApplicationError) as caught:
        invitation_accept(token=token, first_name="Eve", last_name="E", password=PASSWORD + "!")
    assert (caught.value.code, caught.value.status) == (code, status)
    assert not User.objects.filter(first_name="Eve").exists()


def token_in_state(invitation: Invitation, state: str) -> str:
    if state == "mistyped":
        return mistyped(invitation.token)
    if state == "unknown":
        return unknown_token()
    if state == "expired":
        expire(invitation)
    if state == "accepted":
        accept(invitation)
    return invitation.token


# The pages.


def test_opening_the_link_shows_the_address_fixed_and_changes_nothing(anonymous_client, invite):
    invitation = invite("jane@x.example")
    events = AuditEvent.objects.count()
    response = anonymous_client.get(page(invitation))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.fields["email"].disabled
    assert form["email"].value() == "jane@x.example"
    content = response.content.decode()
    assert 'value="jane@x.example"' in content
    assert "disabled" in content.split('name="email"', 1)[1].split(">", 1)[0]
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING
    assert not User.objects.filter(email="jane@x.example").exists()
    assert AuditEvent.objects.count() == events


def test_opening_a_code_asks_for_an_address(anonymous_client, make_code):
    response = anonymous_client.get(page(make_code()))
    assert response.status_code == 200
    assert response.context["form"].fields["email"].required
    assert not response.context["form"].fields["email"].disabled


def test_a_changed_address_in_the_posted_form_is_ignored(anonymous_client, invite):
    invitation = invite("jane@x.example")
    response = anonymous_client.post(page(invitation), {**FORM, "email": "mallory@x.example"})
    assert response.status_code == 302
    assert User.objects.filter(email="jane@x.example").exists()
    assert not User.objects.filter(email="mallory@x.example").exists()


def test_submitting_the_form_signs_in_and_lands_on_the_projects_open_to_the_invitee(
    anonymous_client, invite, neighbours
):
    street = Project.objects.create(title="Street party", visibility=Project.Visibility.GROUPS)
    street.groups.add(neighbours)
    Project.objects.create(title="Council backroom", visibility=Project.Visibility.ADMINS)
    invitation = invite("jane@x.example", group_ids=[neighbours.pk])
    response = anonymous_client.post(page(invitation), FORM)
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(email="jane@x.example")
    assert anonymous_client.session["_auth_user_id"] == str(user.pk)
    home = anonymous_client.get("/")
    assert home.context["user"] == user
    titles = [p.title for p in home.context["projects"]]
    assert "Street party" in titles
    assert "Council backroom" not in titles


def test_a_code_submitted_without_an_address_asks_for_one(anonymous_client, make_code):
    code = make_code()
    response = anonymous_client.post(page(code), FORM)
    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    code.refresh_from_db()
    assert code.status == Invitation.Status.PENDING
    response = anonymous_client.post(page(code), {**FORM, "email": "jane@x.example"})
    assert response.status_code == 302
    assert User.objects.get(email="jane@x.example").email_verified


def test_a_code_with_an_address_that_has_a_pending_invitation_offers_to_resend_it(
    anonymous_client, invite, make_code
):
    invite("jane@x.example")
    code = make_code()
    response = anonymous_client.post(page(code), {**FORM, "email": "jane@x.example"})
    assert response.status_code == 200
    assert response.context["offer_resend"]
    content = response.content.decode()
    assert 'data-testid="resend-offer"' in content
    assert reverse("invitations:resend") in content
    assert not User.objects.filter(email="jane@x.example").exists()


def test_a_signed_in_visitor_is_told_so_and_nothing_is_accepted(resident_client, invite):
    invitation = invite("jane@x.example")
    for response in (
        resident_client.get(page(invitation)),
        resident_client.post(page(invitation), FORM),
    ):
        assert response.status_code == 200
        assert "invitations/signed_in.html" in [t.name for t in response.templates]
        assert "You are signed in" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING


def test_typing_a_token_at_invite_leads_to_its_page(anonymous_client, invite):
    invitation = invite("jane@x.example")
    typed = invitation.token_display.lower().replace("-", " - ")
    response = anonymous_client.post(reverse("invitations:enter"), {"token": typed})
    assert response.status_code == 302
    assert response["Location"] == page(invitation.token)
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING


def test_typing_a_token_with_look_alikes_still_leads_to_its_page(anonymous_client, invite):
    invitation = invite("jane@x.example")
    typed = invitation.token.replace("0", "o").replace("1", "I")
    response = anonymous_client.post(reverse("invitations:enter"), {"token": typed})
    assert response["Location"] == page(invitation.token)


def test_the_invite_page_shows_the_code_form(anonymous_client):
    response = anonymous_client.get(reverse("invitations:enter") + "?code=ABCD")
    assert response.status_code == 200
    assert response.context["form"]["token"].value() == "ABCD"


@pytest.mark.parametrize(
    ("state", "code", "status"),
    [
        ("mistyped", "token_mistyped", 422),
        ("unknown", "token_not_found", 404),
        ("expired", "invitation_expired", 410),
        ("accepted", "invitation_already_accepted", 409),
    ],
)
def test_each_token_problem_has_its_status_and_code_on_pages_and_api_alike(
    anonymous_client, invite, state, code, status
):
    invitation = invite("jane@x.example")
    token = token_in_state(invitation, state)
    users = User.objects.count()

    opened = anonymous_client.get(page(token))
    assert (opened.status_code, problem_code(opened)) == (status, code)
    submitted = anonymous_client.post(page(token), {**FORM, "first_name": "Eve"})
    assert (submitted.status_code, problem_code(submitted)) == (status, code)

    looked_up = anonymous_client.get(api(token))
    assert looked_up.status_code == status
    assert [e["code"] for e in looked_up.json()["errors"]] == [code]
    accepted = anonymous_client.post(
        api(token, "/accept"), {**FORM, "first_name": "Eve"}, content_type="application/json"
    )
    assert accepted.status_code == status
    assert [e["code"] for e in accepted.json()["errors"]] == [code]

    typed = anonymous_client.post(reverse("invitations:enter"), {"token": token})
    assert typed.status_code == status
    assert code in {
        typed.context.get("error_code"),
        getattr(typed.context.get("error"), "code", None),
    }

    assert User.objects.count() == users


def test_the_api_lookup_shows_the_invitation_and_changes_nothing(anonymous_client, invite):
    invitation = invite("jane@x.example", language="fr-BE")
    response = anonymous_client.get(api(invitation.token_display.lower()))
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "jane@x.example"
    assert body["language"] == "fr-BE"
    assert body["inviter"] == "Ada Admin"
    assert body["email_required"] is False
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING


def test_the_api_accepts_and_creates_the_account(anonymous_client, invite):
    invitation = invite("jane@x.example", is_admin=True)
    response = anonymous_client.post(
        api(invitation.token, "/accept"), FORM, content_type="application/json"
    )
    assert response.status_code == 201
    user = User.objects.get(email="jane@x.example")
    assert response.json() == {"user_id": user.pk, "email": user.email, "is_admin": True}


# Rate limits on token lookups.

FROZEN = datetime(2026, 3, 2, 10, 0, 30, tzinfo=timezone.UTC)


@pytest.fixture
def three_lookups_a_minute(db):
    limits = {**settings.PORTICO_RATE_LIMITS, "token_lookup": "3/m"}
    with override_settings(PORTICO_RATE_LIMITS=limits), time_machine.travel(FROZEN, tick=False):
        yield


@pytest.mark.usefixtures("three_lookups_a_minute")
def test_guessing_at_invite_is_rate_limited(anonymous_client):
    for _ in range(3):
        response = anonymous_client.post(reverse("invitations:enter"), {"token": unknown_token()})
        assert response.status_code == 404
    response = anonymous_client.post(reverse("invitations:enter"), {"token": unknown_token()})
    assert response.status_code == 429
    assert response.context["error_code"] == "rate_limited"
    assert "Too many attempts" in response.content.decode()


@pytest.mark.usefixtures("three_lookups_a_minute")
def test_a_rate_limited_visitor_cannot_look_up_even_a_valid_token(anonymous_client, invite):
    invitation = invite("jane@x.example")
    for _ in range(3):
        anonymous_client.get(page(unknown_token()))
    response = anonymous_client.get(page(invitation))
    assert response.status_code == 429
    assert problem_code(response) == "rate_limited"
    response = anonymous_client.get(api(invitation.token))
    assert response.status_code == 429
    assert response.json()["errors"][0]["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0


@pytest.mark.usefixtures("three_lookups_a_minute")
def test_the_rate_limit_counts_per_ip_address(anonymous_client):
    for _ in range(4):
        anonymous_client.get(page(unknown_token()), REMOTE_ADDR="10.0.0.1")
    response = anonymous_client.get(page(unknown_token()), REMOTE_ADDR="10.0.0.2")
    assert response.status_code == 404


@pytest.mark.usefixtures("three_lookups_a_minute")
def test_the_rate_limit_window_passes(anonymous_client):
    for _ in range(4):
        anonymous_client.get(page(unknown_token()))
    with time_machine.travel(FROZEN + timedelta(minutes=1), tick=False):
        assert anonymous_client.get(page(unknown_token())).status_code == 404


# Two acceptances at the same moment.


@pytest.mark.django_db(transaction=True)
def test_simultaneous_acceptances_of_one_token_give_one_account(admin):
    result = invitation_create_batch(
        actor=admin,
        rows=parse_typed_emails("jane@x.example"),
        options=InviteOptions(send_email=False),
    )
    invitation = Invitation.objects.get(pk=result.invitation_ids[0])
    token = invitation.token
    threads_count = 20
    outcomes = at_once(
        *[
            partial(
                invitation_accept,
                token=token,
                first_name=f"Jane{n}",
                last_name="Doe",
                password=PASSWORD,
            )
            for n in range(threads_count)
        ]
    )
    users = [o for o in outcomes if isinstance(o, User)]
    errors = [o for o in outcomes if not isinstance(o, User)]
    assert len(users) == 1, outcomes
    assert errors == ["invitation_already_accepted"] * (threads_count - 1), errors
    assert User.objects.filter(email__iexact="jane@x.example").count() == 1
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    assert invitation.accepted_user == users[0]
    assert AuditEvent.objects.filter(verb="invitation.accepted").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_code_accepted_twice_at_once_with_different_addresses_gives_one_account(admin):
    result = invitation_create_batch(
        actor=admin,
        rows=[InviteRow(position=2, email=None)],
        options=InviteOptions(),
        where="row",
        allow_codes=True,
    )
    token = Invitation.objects.get(pk=result.invitation_ids[0]).token
    outcomes = at_once(
        *[
            partial(invitation_accept, token=token, email=f"p{n}@x.example", **FORM)
            for n in range(8)
        ]
    )
    assert len([o for o in outcomes if isinstance(o, User)]) == 1, outcomes
    assert outcomes.count("invitation_already_accepted") == 7
    assert User.objects.exclude(pk=admin.pk).count() == 1


def test_an_invitation_whose_address_registered_meanwhile_makes_no_second_account(invite):
    invitation = invite("jane@x.example")
    make_user("JANE@x.example")
    with pytest.raises(ApplicationError) as caught:
        accept(invitation)
    assert caught.value.code == "email_taken"
    assert User.objects.filter(email__iexact="jane@x.example").count() == 1

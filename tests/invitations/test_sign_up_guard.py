"""The sign-up guard: an invited address cannot be registered through the normal sign-up
form (which would let a stranger take the rights meant for the invitee); the form offers
to send the invitation again instead. An expired invitation no longer guards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from portico.accounts.models import User
from portico.core.errors import ApplicationError
from portico.core.models import AuditEvent
from portico.groups.models import Membership
from portico.invitations.models import Invitation
from portico.invitations.services.accept import invitation_accept
from portico.invitations.services.jobs import invitations_expire
from portico.invitations.services.manage import invitation_resend
from tests.conftest import PASSWORD
from tests.invitations.conftest import audit_verbs, mail_to

SIGN_UP = reverse("accounts:sign-up")
RESEND = reverse("invitations:resend")


def sign_up_form(email: str) -> dict[str, str]:
    return {
        "email": email,
        "first_name": "Eve",
        "last_name": "Intruder",
        "language": "en",
        "password": PASSWORD,
    }


def expire(invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def flashed(response) -> list[str]:
    """The messages shown on the page the response redirected to (follow=True)."""
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def resend_limits():
    def limits(**overrides):
        return override_settings(PORTICO_RATE_LIMITS={**settings.PORTICO_RATE_LIMITS, **overrides})

    return limits


@pytest.mark.parametrize("typed", ["jane@x.example", "  JANE@X.example ", "Jane@x.EXAMPLE"])
def test_an_invited_address_cannot_sign_up_and_is_offered_its_invitation_again(
    anonymous_client, invite, django_capture_on_commit_callbacks, typed
):
    invitation = invite("jane@x.example", is_admin=True)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = anonymous_client.post(SIGN_UP, sign_up_form(typed))
    assert response.status_code == 200
    assert response.context["error_code"] == "invitation_pending"
    content = response.content.decode()
    assert "An invitation is waiting for this address" in content
    assert 'data-testid="resend-offer"' in content
    assert f'action="{RESEND}"' in content
    assert "Send my invitation again" in content
    assert not User.objects.filter(email__iexact="jane@x.example").exists()
    assert mail.outbox == []  # no verification email either
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING


def test_the_resend_offer_carries_the_typed_address(anonymous_client, invite):
    invite("jane@x.example")
    response = anonymous_client.post(SIGN_UP, sign_up_form("jane@x.example"))
    offer = response.content.decode().split('data-testid="resend-offer"', 1)[1]
    assert 'name="email" value="jane@x.example"' in offer


def test_an_address_without_invitation_signs_up_with_verification(
    db, anonymous_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = anonymous_client.post(SIGN_UP, sign_up_form("eve@x.example"))
    assert response.status_code == 302
    user = User.objects.get(email="eve@x.example")
    assert not user.email_verified
    assert len(mail_to("eve@x.example")) == 1


def test_asking_again_resends_the_same_invitation_without_renewing_it(
    anonymous_client, invite, django_capture_on_commit_callbacks
):
    invitation = invite("jane@x.example")
    (first,) = mail_to("jane@x.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = anonymous_client.post(RESEND, {"email": "JANE@x.example"}, follow=True)
    assert response.redirect_chain == [(SIGN_UP, 302)]
    assert any("we have sent it again" in m for m in flashed(response))
    emails = mail_to("jane@x.example")
    assert len(emails) == 2
    assert emails[1].subject == first.subject
    assert invitation.token in emails[1].body
    refreshed = Invitation.objects.get(pk=invitation.pk)
    assert refreshed.expires_at == invitation.expires_at  # a stranger cannot prolong it
    assert refreshed.token == invitation.token
    assert audit_verbs(invitation)[-2:] == ["invitation.resent_on_request", "invitation.sent"]
    event = AuditEvent.objects.get(verb="invitation.resent_on_request")
    assert event.actor is None


def test_asking_for_an_address_without_invitation_answers_the_same_and_sends_nothing(
    anonymous_client, invite, django_capture_on_commit_callbacks
):
    invite("jane@x.example")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        unknown = anonymous_client.post(RESEND, {"email": "nobody@x.example"}, follow=True)
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        known = anonymous_client.post(RESEND, {"email": "jane@x.example"}, follow=True)
    assert len(mail.outbox) == 1
    assert unknown.redirect_chain == known.redirect_chain == [(SIGN_UP, 302)]
    assert flashed(unknown) == flashed(known)
    assert not AuditEvent.objects.filter(
        verb="invitation.resent_on_request", target_repr="nobody@x.example"
    ).exists()


def test_asking_again_for_an_expired_or_accepted_invitation_sends_nothing(
    anonymous_client, invite, django_capture_on_commit_callbacks
):
    expired = invite("old@x.example")
    expire(expired)
    accepted = invite("done@x.example")
    invitation_accept(token=accepted.token, first_name="D", last_name="One", password=PASSWORD)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        anonymous_client.post(RESEND, {"email": "old@x.example"})
        anonymous_client.post(RESEND, {"email": "done@x.example"})
    assert mail.outbox == []


def test_the_resend_page_only_answers_post(anonymous_client):
    assert anonymous_client.get(RESEND).status_code == 405


def test_asking_again_is_rate_limited_per_address(
    anonymous_client, invite, resend_limits, django_capture_on_commit_callbacks
):
    invite("jane@x.example")
    mail.outbox.clear()
    with (
        resend_limits(invitation_resend_address="2/h", invitation_resend_ip="100/h"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        for n in range(4):
            response = anonymous_client.post(
                RESEND,
                {"email": "JANE@x.example" if n % 2 else "jane@x.example"},
                REMOTE_ADDR=f"10.0.0.{n}",
                follow=True,
            )
    assert len(mail_to("jane@x.example")) == 2
    assert any("Too many attempts" in m for m in flashed(response))
    assert AuditEvent.objects.filter(verb="invitation.resent_on_request").count() == 2


def test_asking_again_is_rate_limited_per_ip_address(
    anonymous_client, invite, resend_limits, django_capture_on_commit_callbacks
):
    for n in range(4):
        invite(f"p{n}@x.example")
    mail.outbox.clear()
    with (
        resend_limits(invitation_resend_address="100/h", invitation_resend_ip="2/h"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        for n in range(3):
            response = anonymous_client.post(
                RESEND, {"email": f"p{n}@x.example"}, REMOTE_ADDR="10.9.9.9", follow=True
            )
        assert any("Too many attempts" in m for m in flashed(response))
        other = anonymous_client.post(
            RESEND, {"email": "p3@x.example"}, REMOTE_ADDR="10.1.1.1", follow=True
        )
    assert sorted(to for m in mail.outbox for to in m.to) == [
        "p0@x.example",
        "p1@x.example",
        "p3@x.example",
    ]
    assert not any("Too many attempts" in m for m in flashed(other))


# An expired invitation no longer guards the address.


def test_an_address_whose_invitation_expired_can_sign_up_with_verification(
    anonymous_client, invite, neighbours, garden, django_capture_on_commit_callbacks
):
    invitation = invite(
        "jane@x.example",
        is_admin=True,
        moderator=True,
        project_ids=[garden.pk],
        group_ids=[neighbours.pk],
    )
    expire(invitation)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = anonymous_client.post(SIGN_UP, sign_up_form("jane@x.example"))
    assert response.status_code == 302
    user = User.objects.get(email="jane@x.example")
    assert not user.email_verified
    (verification,) = mail_to("jane@x.example")
    assert "verify" in verification.body.lower()

    # The account cannot sign in before verifying ...
    signed_in = anonymous_client.post(
        reverse("accounts:sign-in"), {"email": "jane@x.example", "password": PASSWORD}
    )
    assert "_auth_user_id" not in anonymous_client.session
    assert signed_in.status_code == 200

    # ... and the expired invitation's rights are never applied: not at sign-up, not by
    # the expiry sweep, not by accepting it, not by an admin resending it.
    invitations_expire(now=timezone.now())
    with pytest.raises(ApplicationError) as accepted:
        invitation_accept(token=invitation.token, first_name="E", last_name="I", password=PASSWORD)
    assert accepted.value.code == "invitation_expired"
    with pytest.raises(ApplicationError) as resent:
        invitation_resend(actor=invitation.inviter, invitation_id=invitation.pk)
    assert resent.value.code == "email_registered"
    user.refresh_from_db()
    assert not user.is_admin
    assert not Membership.objects.filter(user=user).exists()
    assert not garden.moderators.filter(pk=user.pk).exists()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.EXPIRED
    assert invitation.accepted_user is None


def test_signing_up_with_a_code_in_hand_does_not_apply_it(
    anonymous_client, make_code, django_capture_on_commit_callbacks
):
    code = make_code(is_admin=True)
    form = {**sign_up_form("eve@x.example"), "token": code.token, "code": code.token}
    with django_capture_on_commit_callbacks(execute=True):
        anonymous_client.post(SIGN_UP, form)
    user = User.objects.get(email="eve@x.example")
    assert not user.is_admin
    code.refresh_from_db()
    assert code.status == Invitation.Status.PENDING

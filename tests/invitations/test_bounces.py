"""Bounces that come back after the mail server accepted an email: the provider posts
them to its tracking webhook (django-anymail, here Postmark's format), and the invitation
is marked "not delivered", as when the mail server refuses it outright."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from portico.core.models import AuditEvent
from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.selectors import UNDELIVERED, invitation_list_for_admin
from portico.invitations.services.accept import invitation_accept
from portico.invitations.services.deliverability import invitation_record_bounce
from portico.invitations.services.manage import invitation_change_email
from tests.conftest import PASSWORD

WEBHOOK = "/anymail/postmark/tracking/"
SECRET = "postmark:5ecret-webhook-password"
BOUNCED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _webhook_secret(settings) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def _auth(secret: str = SECRET) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def hard_bounce(email: str, **fields: Any) -> dict[str, Any]:
    """Postmark's bounce webhook, as documented (and as anymail's own tests post it)."""
    return {
        "RecordType": "Bounce",
        "ID": 901542550,
        "Type": "HardBounce",
        "TypeCode": 1,
        "ServerID": 23,
        "Name": "Hard bounce",
        "MessageStream": "outbound",
        "MessageID": "2706ee8a-737c-4285-b032-ccd317af53ed",
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "participate@example.org",
        "BouncedAt": BOUNCED_AT.isoformat(),
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "You are invited",
        "Metadata": {},
        **fields,
    }


def post(client: Client, payload: dict[str, Any], **headers: str):
    return client.post(
        WEBHOOK, data=json.dumps(payload), content_type="application/json", **headers
    )


def failures(invitation: Invitation) -> int:
    return AuditEvent.objects.filter(
        verb="invitation.delivery_failed", target_id=str(invitation.pk)
    ).count()


@pytest.fixture
def ruth(invite) -> Invitation:
    """Invited, and her email accepted by the mail server (it bounces later)."""
    invitation = invite("Ruth Bounce <ruth@typo.example>")
    assert invitation.messages.filter(sent_at__isnull=False).exists()
    return invitation


def test_a_bounce_marks_the_invitation_not_delivered(client, ruth):
    response = post(client, hard_bounce("ruth@typo.example"), **_auth())

    assert response.status_code == 200
    ruth.refresh_from_db()
    assert ruth.delivery_failed_at == BOUNCED_AT
    assert ruth.delivery_error == (
        "bounced: smtp;550 5.1.1 The email account that you tried to reach does not exist."
        " (Postmark)"
    )
    assert list(invitation_list_for_admin(status=UNDELIVERED)) == [ruth]
    event = AuditEvent.objects.get(verb="invitation.delivery_failed", target_id=str(ruth.pk))
    assert event.actor is None
    assert event.details["error"] == ruth.delivery_error


def test_the_admin_list_shows_the_bounced_invitation_as_not_delivered(admin_client, client, ruth):
    post(client, hard_bounce("ruth@typo.example"), **_auth())

    html = admin_client.get("/manage/invitations/", {"status": "undelivered"}).content.decode()
    assert "ruth@typo.example" in html
    assert "not delivered" in html


def test_the_same_bounce_posted_twice_is_recorded_once(client, ruth):
    for _ in range(2):
        assert post(client, hard_bounce("ruth@typo.example"), **_auth()).status_code == 200

    assert failures(ruth) == 1


def test_the_recipient_matches_whatever_its_case(client, ruth):
    post(client, hard_bounce("Ruth@TYPO.example"), **_auth())

    ruth.refresh_from_db()
    assert ruth.delivery_failed_at is not None


def test_a_rejection_by_the_provider_marks_it_too(client, ruth):
    # Postmark refuses to send to an address on its suppression list: anymail "rejected".
    post(client, hard_bounce("ruth@typo.example", Type="ManuallyDeactivated"), **_auth())

    ruth.refresh_from_db()
    assert ruth.delivery_error.startswith("rejected: ")


def test_an_accepted_invitation_is_left_alone(client, ruth):
    invitation_accept(token=ruth.token, first_name="Ruth", last_name="B", password=PASSWORD)

    assert post(client, hard_bounce("ruth@typo.example"), **_auth()).status_code == 200

    ruth.refresh_from_db()
    assert ruth.delivery_failed_at is None
    assert failures(ruth) == 0


def test_an_unknown_recipient_changes_nothing(client, ruth):
    response = post(client, hard_bounce("nobody@elsewhere.example"), **_auth())

    assert response.status_code == 200
    assert not invitation_list_for_admin(status=UNDELIVERED).exists()
    assert not AuditEvent.objects.filter(verb="invitation.delivery_failed").exists()


@pytest.mark.parametrize(
    "headers",
    [{}, _auth("postmark:wrong-password"), _auth("someone:" + SECRET.split(":")[1])],
    ids=["no credentials", "wrong password", "wrong user"],
)
def test_a_post_without_the_secret_is_refused(client, ruth, headers):
    response = post(client, hard_bounce("ruth@typo.example"), **headers)

    assert response.status_code == 400  # anymail's AnymailWebhookValidationFailure
    ruth.refresh_from_db()
    assert ruth.delivery_failed_at is None


def test_without_a_configured_secret_there_is_no_webhook(client, settings, ruth):
    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}

    response = post(client, hard_bounce("ruth@typo.example"), **_auth())

    assert response.status_code == 404
    ruth.refresh_from_db()
    assert ruth.delivery_failed_at is None


SPAM_COMPLAINT = {
    "RecordType": "SpamComplaint",
    "ID": 901542551,
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "Name": "Spam complaint",
    "MessageID": "2706ee8a-737c-4285-b032-ccd317af53ed",
    "ServerID": 23,
    "Description": "",
    "Details": "Test spam complaint details",
    "Email": "ruth@typo.example",
    "From": "participate@example.org",
    "BouncedAt": BOUNCED_AT.isoformat(),
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": False,
    "Subject": "You are invited",
}
DELIVERY = {
    "RecordType": "Delivery",
    "ServerID": 23,
    "MessageStream": "outbound",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Recipient": "ruth@typo.example",
    "Tag": "",
    "DeliveredAt": BOUNCED_AT.isoformat(),
    "Details": "Test delivery webhook details",
    "Metadata": {},
}
OPEN = {
    "RecordType": "Open",
    "MessageStream": "outbound",
    "FirstOpen": True,
    "Client": {"Name": "Gmail", "Company": "Google", "Family": "Gmail"},
    "OS": {"Name": "unknown", "Company": "unknown", "Family": "unknown"},
    "Platform": "Unknown",
    "UserAgent": "Mozilla/5.0",
    "ReadSeconds": 0,
    "Geo": {},
    "MessageID": "f4830d10-9c35-4f0c-bca3-3d9b459821f8",
    "ReceivedAt": BOUNCED_AT.isoformat(),
    "Recipient": "ruth@typo.example",
    "Metadata": {},
}
SOFT_DNS_ERROR = {**hard_bounce("ruth@typo.example"), "Type": "DnsError", "TypeCode": 8}


@pytest.mark.parametrize(
    "payload",
    [SPAM_COMPLAINT, DELIVERY, OPEN, SOFT_DNS_ERROR],
    ids=["complaint", "delivered", "opened", "deferred"],
)
def test_other_events_change_nothing(client, ruth, payload):
    # A spam complaint means the email arrived: the address works.
    assert post(client, payload, **_auth()).status_code == 200

    ruth.refresh_from_db()
    assert ruth.delivery_failed_at is None
    assert failures(ruth) == 0


def test_the_message_reference_in_the_metadata_is_preferred_to_the_address(client, ruth):
    sent = ruth.messages.get()
    stale = hard_bounce("ruth@typo.example", Metadata={"portico_message": "invitation-999999"})

    post(client, stale, **_auth())  # an email Portico does not know: not Ruth's
    ruth.refresh_from_db()
    assert ruth.delivery_failed_at is None

    post(
        client,
        hard_bounce("ruth@typo.example", Metadata={"portico_message": f"{sent.kind}-{sent.pk}"}),
        **_auth(),
    )
    ruth.refresh_from_db()
    assert ruth.delivery_failed_at == BOUNCED_AT


# The service itself.


def _bounce(email: str, **kwargs: Any) -> int:
    return invitation_record_bounce(
        recipient=email, reason=kwargs.pop("reason", "550 no such user"), when=BOUNCED_AT, **kwargs
    )


def test_recording_a_bounce_is_idempotent(ruth):
    assert _bounce("ruth@typo.example") == 1
    assert _bounce("ruth@typo.example", reason="a later copy") == 0

    ruth.refresh_from_db()
    assert ruth.delivery_error == "bounced: 550 no such user"
    assert failures(ruth) == 1


def test_a_refusal_already_recorded_is_kept(ruth):
    Invitation.objects.filter(pk=ruth.pk).update(
        delivery_failed_at=timezone.now(), delivery_error="refused by the mail server: 550"
    )

    assert _bounce("ruth@typo.example") == 0
    ruth.refresh_from_db()
    assert ruth.delivery_error == "refused by the mail server: 550"


def test_a_bounce_of_the_old_address_leaves_a_fixed_invitation_alone(
    admin, ruth, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation_change_email(actor=admin, invitation_id=ruth.pk, email="ruth@mail.example")

    assert _bounce("ruth@typo.example") == 0
    ruth.refresh_from_db()
    assert ruth.delivery_failed_at is None


def test_an_invitation_whose_email_was_not_sent_yet_is_not_marked(ruth):
    InvitationMessage.objects.filter(invitation=ruth).update(sent_at=None)

    assert _bounce("ruth@typo.example") == 0


def test_a_token_quoted_in_the_reason_is_masked(ruth):
    _bounce("ruth@typo.example", reason=f"550 rejected http://testserver/invite/{ruth.token}/")

    ruth.refresh_from_db()
    assert ruth.token not in ruth.delivery_error
    assert "/invite/[token]" in ruth.delivery_error

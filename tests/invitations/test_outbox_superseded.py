"""An email claimed by the worker and superseded before it goes out (the invitation was
sent again, or its address was fixed) is not sent; the email that replaces it is."""

from __future__ import annotations

from django.core import mail
from django.utils import timezone

from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.services import jobs
from portico.invitations.services.create import (
    InviteOptions,
    invitation_create_batch,
    parse_typed_emails,
)
from portico.invitations.services.manage import invitation_change_email, invitation_resend


def _invite_and_claim(admin, address: str) -> tuple[Invitation, list[int]]:
    """An invitation whose email the worker has claimed but not sent yet."""
    result = invitation_create_batch(
        actor=admin, rows=parse_typed_emails(address), options=InviteOptions()
    )
    claimed = jobs._claim(timezone.now())
    assert len(claimed) == 1
    return Invitation.objects.get(pk=result.invitation_ids[0]), claimed


def test_a_claimed_email_of_an_invitation_sent_again_meanwhile_is_not_sent(admin):
    invitation, claimed = _invite_and_claim(admin, "ann@x.example")
    invitation_resend(actor=admin, invitation_id=invitation.pk)

    assert jobs._deliver(claimed, now=timezone.now()) == (0, False)
    assert mail.outbox == []

    assert jobs.invitation_messages_deliver_due(now=timezone.now()) == 1
    assert [m.to for m in mail.outbox] == [["ann@x.example"]]


def test_a_claimed_email_to_an_address_fixed_meanwhile_is_not_sent(admin):
    invitation, claimed = _invite_and_claim(admin, "ann@typo.example")
    fixed = invitation_change_email(actor=admin, invitation_id=invitation.pk, email="ann@x.example")

    jobs._deliver(claimed, now=timezone.now())
    jobs.invitation_messages_deliver_due(now=timezone.now())

    assert [m.to for m in mail.outbox] == [["ann@x.example"]]
    assert f"/invite/{fixed.token}/" in mail.outbox[0].body


def test_a_refusal_of_the_old_address_does_not_mark_the_fixed_invitation(admin):
    invitation, claimed = _invite_and_claim(admin, "ann@typo.example")
    stale = InvitationMessage.objects.select_related("invitation").get(pk=claimed[0])
    invitation_change_email(actor=admin, invitation_id=invitation.pk, email="ann@x.example")

    jobs._fail(stale, now=timezone.now(), error="550 no such mailbox")

    invitation.refresh_from_db()
    assert invitation.delivery_failed_at is None
    assert invitation.delivery_error == ""


def test_a_superseded_email_that_runs_out_of_attempts_marks_nothing(admin):
    invitation, claimed = _invite_and_claim(admin, "ann@x.example")
    stale = InvitationMessage.objects.select_related("invitation").get(pk=claimed[0])
    invitation_resend(actor=admin, invitation_id=invitation.pk)  # cancels it

    jobs._fail(stale, now=timezone.now(), error="gave up after 8 attempts: server down")

    invitation.refresh_from_db()
    assert invitation.delivery_failed_at is None
    stale.refresh_from_db()
    assert stale.last_error.startswith("superseded")


def test_a_server_outage_keeps_the_reason_of_an_email_cancelled_meanwhile(admin):
    """The worker held it when the mail server went away; it had been replaced since: it
    stays cancelled for that reason, not rescheduled with the outage's."""
    invitation, claimed = _invite_and_claim(admin, "ann@x.example")
    held = InvitationMessage.objects.get(pk=claimed[0])
    invitation_resend(actor=admin, invitation_id=invitation.pk)

    jobs._postpone([held], now=timezone.now(), error="ConnectionRefusedError: down")

    held.refresh_from_db()
    assert held.failed_at is not None
    assert (held.attempts, held.last_error) == (0, "superseded: the invitation was sent again")

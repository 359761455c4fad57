"""An invitation created without email is sent when an admin resends it."""

from __future__ import annotations

from django.core import mail

from portico.invitations.services.manage import invitation_resend


def test_resending_an_invitation_created_without_email_sends_it(
    admin, invite, django_capture_on_commit_callbacks
):
    invitation = invite("quiet@x.example", send_email=False)
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        invitation_resend(actor=admin, invitation_id=invitation.pk)

    assert [m.to for m in mail.outbox] == [["quiet@x.example"]]
    invitation.refresh_from_db()
    assert invitation.send_email

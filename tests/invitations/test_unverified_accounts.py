"""An account whose address was never verified gets none of the rights an invitation
to that address carries: signing up with someone else's address must not be a way to
collect their admin rights."""

from __future__ import annotations

from django.core import mail

from portico.accounts.models import User
from portico.core.models import AuditEvent
from portico.invitations.models import Invitation
from portico.invitations.services.accept import invitation_accept
from tests.conftest import make_user


def test_an_unverified_account_is_replaced_by_the_invitation_not_promoted(create_batch, neighbours):
    squatter = make_user("victim@city.example", verified=False)

    result = create_batch("victim@city.example", is_admin=True, group_ids=[neighbours.pk])

    assert result.counts["updated"] == 0
    assert result.counts["invited"] == 1
    assert not User.objects.filter(pk=squatter.pk).exists()
    assert AuditEvent.objects.filter(
        verb="user.unverified_deleted", target_id=str(squatter.pk)
    ).exists()
    invitation = Invitation.objects.get(email="victim@city.example")
    assert invitation.is_admin
    assert [m.to for m in mail.outbox] == [["victim@city.example"]]

    user = invitation_accept(
        token=invitation.token,
        first_name="Vic",
        last_name="Tim",
        password="a long and fine passphrase",
    )
    assert user.is_admin
    assert user.email_verified


def test_a_verified_account_is_updated_as_before(create_batch, neighbours):
    member = make_user("member@city.example")

    result = create_batch("member@city.example", is_admin=True, group_ids=[neighbours.pk])

    assert result.counts["updated"] == 1
    member.refresh_from_db()
    assert member.is_admin
    assert not Invitation.objects.exists()
    assert mail.outbox == []

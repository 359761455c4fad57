"""A plan can be older than the data it is applied to (an import is stored long after
its preview). Applying it must not undo what happened in between."""

from __future__ import annotations

from django.utils import timezone

from portico.invitations.models import Invitation, InvitationBatch
from portico.invitations.services.accept import invitation_accept
from portico.invitations.services.create import apply_plan
from portico.invitations.services.planning import (
    InviteOptions,
    invitation_plan_batch,
    parse_typed_emails,
)


def test_an_invitation_accepted_after_the_plan_stays_accepted_and_its_user_gets_the_groups(
    admin, invite, neighbours
):
    invitation = invite("nora@x.example")
    plan = invitation_plan_batch(
        rows=parse_typed_emails("nora@x.example"), options=InviteOptions(group_ids=[neighbours.pk])
    )
    assert plan.rows[0].action == "merge"
    user = invitation_accept(
        token=invitation.token,
        first_name="Nora",
        last_name="North",
        password="a long and fine passphrase",
    )

    apply_plan(
        actor=admin,
        plan=plan,
        batch=InvitationBatch.objects.create(actor=admin),
        now=timezone.now(),
    )

    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    assert invitation.accepted_user == user
    assert user.memberships.filter(group=neighbours).exists()


def test_a_merge_keeps_a_reminder_sent_after_the_plan(admin, invite):
    invitation = invite("nora@x.example")
    plan = invitation_plan_batch(
        rows=parse_typed_emails("nora@x.example"), options=InviteOptions(is_admin=True)
    )
    reminded_at = timezone.now()
    Invitation.objects.filter(pk=invitation.pk).update(reminder_sent_at=reminded_at)

    apply_plan(
        actor=admin,
        plan=plan,
        batch=InvitationBatch.objects.create(actor=admin),
        now=timezone.now(),
    )

    invitation.refresh_from_db()
    assert invitation.reminder_sent_at == reminded_at
    assert invitation.is_admin

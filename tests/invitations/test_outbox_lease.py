"""A sweep's clock is fixed while its deliveries take time; the claim on a message must
still keep other workers off it."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.utils import timezone

from portico.invitations.models import InvitationMessage
from portico.invitations.services import jobs
from portico.invitations.services.create import (
    InviteOptions,
    invitation_create_batch,
    parse_typed_emails,
)


def test_a_claim_made_with_an_old_clock_still_keeps_other_workers_away(admin):
    invitation_create_batch(
        actor=admin, rows=parse_typed_emails("a@x.example, b@x.example"), options=InviteOptions()
    )
    started = timezone.now()
    with time_machine.travel(started + timedelta(minutes=11), tick=False):
        # The first worker still runs with the `now` its sweep began with.
        claimed = jobs._claim(started)
        # A second worker, with the right time, finds nothing left to take.
        assert jobs._claim(timezone.now()) == []

    assert len(claimed) == 2
    lease_ends = set(InvitationMessage.objects.values_list("claimed_until", flat=True))
    assert all(end > started + timedelta(minutes=11) for end in lease_ends)

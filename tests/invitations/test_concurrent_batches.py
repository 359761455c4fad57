"""Two admins inviting the same new address at the same moment: one invitation, never a
500, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from functools import partial

import pytest
from django.db import IntegrityError
from django.utils import timezone

from portico.invitations.models import Invitation, InvitationBatch
from portico.invitations.services.create import apply_plan
from portico.invitations.services.planning import (
    InviteOptions,
    invitation_plan_batch,
    parse_typed_emails,
)
from tests.concurrency import at_once
from tests.conftest import make_user


def test_storing_a_stale_invite_row_raises_djangos_integrity_error(admin, invite):
    """The fast insert path speaks Django's errors on both databases, so callers can
    catch them (COPY on PostgreSQL used to raise psycopg's own)."""
    plan = invitation_plan_batch(rows=parse_typed_emails("same@x.example"), options=InviteOptions())
    invite("same@x.example")  # someone else, between the plan and the insert

    with pytest.raises(IntegrityError):
        apply_plan(
            actor=admin,
            plan=plan,
            batch=InvitationBatch.objects.create(actor=admin),
            now=timezone.now(),
        )


@pytest.mark.django_db(transaction=True)
def test_two_admins_inviting_the_same_address_at_once_make_one_invitation():
    from portico.invitations.services.create import BatchResult, invitation_create_batch

    admins = [make_user(f"admin{i}@city.example", is_admin=True) for i in range(2)]
    outcomes = at_once(
        *[
            partial(
                invitation_create_batch,
                actor=actor,
                rows=parse_typed_emails("same@x.example"),
                options=InviteOptions(),
            )
            for actor in admins
        ]
    )

    assert Invitation.objects.filter(email="same@x.example").count() == 1
    invited = [o for o in outcomes if isinstance(o, BatchResult)]
    assert len(invited) >= 1, outcomes
    assert all(isinstance(o, BatchResult) or o == "conflict" for o in outcomes), outcomes

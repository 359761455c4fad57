"""Storing a batch takes a few queries per chunk, group and project, never one per row:
new invitations, registered users updated, pending invitations merged and expired ones
renewed alike (an import of 100,000 rows may hold any mix of them)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portico.core.models import AuditEvent
from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.services.create import (
    InviteOptions,
    invitation_create_batch,
    parse_typed_emails,
)
from tests.conftest import make_user


def _addresses(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{number}@bulk.example" for number in range(count)]


def _queries_to_invite(admin, addresses: list[str], **options) -> int:
    with CaptureQueriesContext(connection) as queries:
        invitation_create_batch(
            actor=admin, rows=parse_typed_emails(addresses), options=InviteOptions(**options)
        )
    return len(queries)


def _expire(addresses: list[str]) -> None:
    Invitation.objects.filter(email__in=addresses).update(
        expires_at=timezone.now() - timedelta(days=1)
    )


@pytest.fixture
def options(neighbours, garden) -> dict:
    """Every option that links or grants something: a group, a project, admin rights."""
    return {
        "group_ids": [neighbours.pk],
        "moderator": True,
        "project_ids": [garden.pk],
        "is_admin": True,
    }


def test_merging_thirty_pending_invitations_takes_the_queries_of_merging_three(
    admin, create_batch, options
):
    few, many = _addresses("few", 3), _addresses("many", 30)
    create_batch(few + many)

    assert _queries_to_invite(admin, few, **options) == _queries_to_invite(admin, many, **options)
    merged = Invitation.objects.filter(email__in=many)
    assert all(i.is_admin and i.status == "pending" for i in merged)
    assert {i.groups.get().name for i in merged} == {"North Avenue Residents"}
    assert all(i.moderated_projects.get().title == "Community garden" for i in merged)
    assert AuditEvent.objects.filter(verb="invitation.merged").count() == 33
    assert InvitationMessage.objects.count() == 33  # the first emails only, none again


def test_renewing_thirty_expired_invitations_takes_the_queries_of_renewing_three(
    admin, create_batch, options
):
    few, many = _addresses("few", 3), _addresses("many", 30)
    create_batch(few + many)
    _expire(few + many)

    assert _queries_to_invite(admin, few, **options) == _queries_to_invite(admin, many, **options)
    renewed = Invitation.objects.filter(email__in=many)
    assert all(i.effective_status() == "pending" and i.is_admin for i in renewed)
    assert all(i.groups.count() == 1 and i.moderated_projects.count() == 1 for i in renewed)
    assert AuditEvent.objects.filter(verb="invitation.renewed").count() == 33
    # Each renewed invitation has its first email and the one of its new lifetime.
    assert InvitationMessage.objects.filter(invitation__in=renewed).count() == 60


def test_updating_thirty_registered_users_takes_the_queries_of_updating_three(
    admin, options, neighbours, garden
):
    few, many = _addresses("few", 3), _addresses("many", 30)
    for address in few + many:
        make_user(address)

    assert _queries_to_invite(admin, few, **options) == _queries_to_invite(admin, many, **options)
    for address in many:
        user = type(admin).objects.get(email=address)
        assert user.is_admin
        assert neighbours.memberships.filter(user=user).exists()
        assert garden.moderators.filter(pk=user.pk).exists()
    assert Invitation.objects.count() == 0
    for verb in ("invitation.user_updated", "user.admin_granted", "group.member_added"):
        assert AuditEvent.objects.filter(verb=verb).count() == 33, verb
    assert AuditEvent.objects.filter(verb="project.moderator_added").count() == 33


def test_a_merge_that_changes_nothing_writes_no_invitation_again(admin, create_batch):
    addresses = _addresses("same", 5)
    create_batch(addresses)

    with CaptureQueriesContext(connection) as queries:
        invitation_create_batch(
            actor=admin, rows=parse_typed_emails(addresses), options=InviteOptions()
        )

    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "invitations_invitation"')]
    assert updates == []
    assert AuditEvent.objects.filter(verb="invitation.merged").count() == 5

"""A small platform for the invitation tests: a manual group, a smart group, a project,
and helpers that invite people the way an admin does (mail delivered after commit)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core import mail

from portico.core.models import AuditEvent
from portico.groups.models import Group
from portico.invitations.models import Invitation
from portico.invitations.services.create import (
    BatchResult,
    InviteOptions,
    InviteRow,
    invitation_create_batch,
    parse_typed_emails,
)
from portico.projects.models import Project


@pytest.fixture
def neighbours(db) -> Group:
    return Group.objects.create(name="North Avenue Residents")


@pytest.fixture
def staff(db) -> Group:
    """A smart group: its members are whoever has an address at staff.example."""
    return Group.objects.create(
        name="City staff",
        kind=Group.Kind.SMART,
        rules=[{"field": "email_domain", "value": "staff.example"}],
    )


@pytest.fixture
def garden(db) -> Project:
    return Project.objects.create(title="Community garden", visibility=Project.Visibility.ADMINS)


@pytest.fixture
def create_batch(admin, django_capture_on_commit_callbacks) -> Callable[..., BatchResult]:
    """``create_batch("a@x.example, b@x.example", is_admin=True, ...)``: the admin's
    batch, committed, with its emails delivered."""

    def create(emails: str | list[str], **options) -> BatchResult:
        with django_capture_on_commit_callbacks(execute=True):
            return invitation_create_batch(
                actor=options.pop("actor", admin),
                rows=parse_typed_emails(emails),
                options=InviteOptions(**options),
            )

    return create


@pytest.fixture
def invite(create_batch) -> Callable[..., Invitation]:
    """``invite("jane@x.example", ...)``: one invitation, sent."""

    def one(email: str, **options) -> Invitation:
        result = create_batch([email], **options)
        (invitation_id,) = result.invitation_ids
        return Invitation.objects.get(pk=invitation_id)

    return one


@pytest.fixture
def make_code(admin, django_capture_on_commit_callbacks) -> Callable[..., Invitation]:
    """A registration code for a letter: an invitation without an address."""

    def code(**options) -> Invitation:
        with django_capture_on_commit_callbacks(execute=True):
            result = invitation_create_batch(
                actor=admin,
                rows=[InviteRow(position=2, email=None)],
                options=InviteOptions(**options),
                where="row",
                allow_codes=True,
            )
        (invitation_id,) = result.invitation_ids
        return Invitation.objects.get(pk=invitation_id)

    return code


def mail_to(address: str) -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if address in m.to]


def audit_verbs(invitation: Invitation) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            target_type="invitations.invitation", target_id=str(invitation.pk)
        )
        .order_by("id")
        .values_list("verb", flat=True)
    )


@pytest.fixture
def codes(admin, django_capture_on_commit_callbacks):
    """``codes(("Zoë", "Façade", "nl-BE"), ...)``: one batch of registration codes (no
    address), one per (first name, last name, language), as a codes import stores them."""

    def create(*people: tuple[str, str, str | None]) -> BatchResult:
        rows = [
            InviteRow(position=n, email=None, first_name=first, last_name=last, language=lang)
            for n, (first, last, lang) in enumerate(people, start=2)
        ]
        with django_capture_on_commit_callbacks(execute=True):
            return invitation_create_batch(
                actor=admin, rows=rows, options=InviteOptions(), where="row", allow_codes=True
            )

    return create

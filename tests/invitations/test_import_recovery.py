"""An import never stays stuck: a broken step says so, a stopped worker is caught up."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.utils import timezone

from portico.invitations.models import Invitation, InvitationImport
from portico.invitations.services.imports import invitation_imports_resume_stalled
from tests.invitations.sheet_files import checked, confirm, xlsx_bytes

ROWS = [["email"], ["a@x.example"], ["b@x.example"]]


def test_a_step_that_breaks_marks_the_import_failed_with_the_reason(
    admin_client, django_capture_on_commit_callbacks
):
    preview = checked(admin_client, "people.xlsx", xlsx_bytes(ROWS))
    # The checked plan is damaged (a first name that is not text): storing cannot go on.
    damaged = [2, "invite", "a@x.example", 5, "", "en", False, True, None, None, None, None]
    InvitationImport.objects.filter(pk=preview["id"]).update(plan=[damaged])

    # The task backend records the task as failed (and logs the error).
    with django_capture_on_commit_callbacks(execute=True):
        confirm(admin_client, preview["id"])

    failed = InvitationImport.objects.get(pk=preview["id"])
    assert failed.status == InvitationImport.Status.FAILED
    assert "TypeError" in failed.failure
    assert not Invitation.objects.exists()


def test_an_import_whose_worker_stopped_is_queued_again_and_finishes(
    admin_client, django_capture_on_commit_callbacks
):
    preview = checked(admin_client, "people.xlsx", xlsx_bytes(ROWS))
    # Confirmed, then the worker died before storing anything.
    InvitationImport.objects.filter(pk=preview["id"]).update(
        status=InvitationImport.Status.STORING, confirmed_at=timezone.now()
    )

    assert invitation_imports_resume_stalled(now=timezone.now()) == 0  # not stalled yet
    later = timezone.now() + timedelta(minutes=20)
    with time_machine.travel(later, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert invitation_imports_resume_stalled(now=later) == 1

    done = InvitationImport.objects.get(pk=preview["id"])
    assert done.status == InvitationImport.Status.DONE
    assert sorted(Invitation.objects.values_list("email", flat=True)) == [
        "a@x.example",
        "b@x.example",
    ]

"""An import never stays stuck: a broken step says so, a stopped worker is caught up."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.utils import timezone

from portico.invitations.models import Invitation, InvitationImport
from portico.invitations.services import imports
from portico.invitations.services.imports import invitation_imports_resume_stalled
from tests.invitations.sheet_files import checked, confirm, xlsx_bytes

ROWS = [["email"], ["a@x.example"], ["b@x.example"]]


def test_a_step_that_breaks_marks_the_import_failed_with_the_reason(
    admin_client, django_capture_on_commit_callbacks, monkeypatch
):
    preview = checked(admin_client, "people.xlsx", xlsx_bytes(ROWS))

    # Storing breaks on something unexpected (the database refuses, a bug...).
    def breaks(**kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(imports, "apply_plan", breaks)
    # The task backend records the task as failed (and logs the error).
    with django_capture_on_commit_callbacks(execute=True):
        confirm(admin_client, preview["id"])

    failed = InvitationImport.objects.get(pk=preview["id"])
    assert failed.status == InvitationImport.Status.FAILED
    assert "RuntimeError" in failed.failure
    assert "the disk is full" in failed.failure
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

"""An import's progress: rows checked while the check runs, invitations stored chunk by
chunk (a stopped worker resumes without storing or sending anything twice), and an
"emails sent" bar that counts every email the import queued and always finishes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portico.core.models import AuditEvent
from portico.invitations.models import Invitation, InvitationImport, InvitationMessage
from portico.invitations.services import imports, planning
from portico.invitations.services.jobs import invitations_send_due_reminders
from portico.invitations.services.manage import invitation_delete, invitation_resend
from portico.invitations.tasks import deliver_invitation_messages
from tests.invitations.sheet_files import checked, confirm, get_import, xlsx_bytes

PEOPLE = [["email"], *([f"p{number}@x.example"] for number in range(1, 6))]


def _progress(client, import_id: int) -> dict:
    return get_import(client, import_id)["progress"]


def _polls(client, import_id: int) -> bool:
    """Whether the progress fragment asks the page to poll again."""
    response = client.get(reverse("web:import-progress", args=[import_id]))
    assert response.status_code == 200
    return 'hx-trigger="every 1s"' in response.content.decode()


def _break_on_the_second_chunk(monkeypatch, error: BaseException):
    """Storing raises ``error`` on its second chunk, after storing the first. Returns
    the real ``apply_plan``, to put back."""
    real_apply, calls = imports.apply_plan, []

    def breaks(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise error
        return real_apply(**kwargs)

    monkeypatch.setattr(imports, "apply_plan", breaks)
    return real_apply


def test_rows_checked_moves_while_the_check_runs(admin_client, monkeypatch):
    monkeypatch.setattr(planning, "PROGRESS_EVERY", 2)

    with CaptureQueriesContext(connection) as queries:
        preview = checked(admin_client, "people.xlsx", xlsx_bytes(PEOPLE))

    reported = [
        int(match.group(1))
        for query in queries
        if (match := re.search(r'SET "rows_checked" = (\d+)', query["sql"]))
    ]
    assert reported == [2, 4]
    assert preview["progress"]["rows_checked"] == preview["progress"]["rows_total"] == 5


def test_an_import_is_stored_in_chunks_and_a_stopped_worker_resumes_without_doubles(
    admin, admin_client, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(imports, "CHUNK", 2)
    preview = checked(admin_client, "people.xlsx", xlsx_bytes(PEOPLE))
    with django_capture_on_commit_callbacks(execute=False):  # the worker picks it up below
        imports.invitation_import_confirm(actor=admin, import_id=preview["id"])

    # The worker dies while storing the second chunk (the process ends: no cleanup runs).
    real_apply = _break_on_the_second_chunk(monkeypatch, SystemExit("worker killed"))
    with pytest.raises(SystemExit), django_capture_on_commit_callbacks(execute=True):
        imports.invitation_import_store(import_id=preview["id"], now=timezone.now())

    halfway = InvitationImport.objects.get(pk=preview["id"])
    assert (halfway.status, halfway.stored, halfway.stored_through) == ("storing", 2, 1)
    assert _progress(admin_client, preview["id"])["stored"] == 2
    assert _polls(admin_client, preview["id"])

    # The sweep finds it stalled and queues it again; it goes on from the third row.
    monkeypatch.setattr(imports, "apply_plan", real_apply)
    later = timezone.now() + imports.STALLED_AFTER + timedelta(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert imports.invitation_imports_resume_stalled(now=later) == 1

    progress = _progress(admin_client, preview["id"])
    assert progress["status"] == "done"
    assert (progress["stored"], progress["emails_queued"], progress["emails_sent"]) == (5, 5, 5)
    assert progress["mail_done"] is True
    assert Invitation.objects.count() == 5
    assert InvitationMessage.objects.count() == 5
    assert sorted(m.to[0] for m in mail.outbox) == [f"p{n}@x.example" for n in range(1, 6)]
    assert not _polls(admin_client, preview["id"])


def test_the_emails_bar_counts_renewed_invitations_and_finishes(
    admin_client, invite, django_capture_on_commit_callbacks
):
    # Invited long ago by another batch; expired since. The import renews it.
    expired = invite("old@x.example")
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    mail.outbox.clear()

    preview = checked(admin_client, "people.xlsx", xlsx_bytes([["email"], ["old@x.example"]]))
    assert preview["summary"]["renewed"] == 1
    confirm(admin_client, preview["id"])

    progress = _progress(admin_client, preview["id"])
    assert (progress["emails_queued"], progress["emails_sent"]) == (1, 1)
    assert progress["mail_done"] is True
    assert [m.to for m in mail.outbox] == [["old@x.example"]]
    assert not _polls(admin_client, preview["id"])


def test_an_email_that_will_not_be_sent_ends_the_bar_and_is_said(
    admin, admin_client, django_capture_on_commit_callbacks
):
    preview = checked(admin_client, "people.xlsx", xlsx_bytes([["email"], ["ann@x.example"]]))
    # Stored, its email still waiting for the worker...
    with django_capture_on_commit_callbacks(execute=False):
        imports.invitation_import_confirm(actor=admin, import_id=preview["id"])
    with django_capture_on_commit_callbacks(execute=False):
        imports.invitation_import_store(import_id=preview["id"], now=timezone.now())
    assert _polls(admin_client, preview["id"])
    # ...when the admin sends it again: the waiting email is replaced by the resend's.
    with django_capture_on_commit_callbacks(execute=True):
        invitation_resend(actor=admin, invitation_id=Invitation.objects.get().pk)

    progress = _progress(admin_client, preview["id"])
    assert (progress["emails_queued"], progress["emails_sent"]) == (1, 0)
    assert progress["emails_not_sent"] == 1
    assert progress["mail_done"] is True
    assert not _polls(admin_client, preview["id"])
    page = admin_client.get(reverse("web:import", args=[preview["id"]])).content.decode()
    assert 'data-testid="emails-not-sent"' in page
    assert "1 email will not be sent" in page
    assert "What was confirmed" in page  # no longer "What will happen"


def test_an_invitation_deleted_with_its_waiting_email_does_not_keep_the_page_polling(
    admin, admin_client, django_capture_on_commit_callbacks
):
    rows = [["email"], ["ann@x.example"], ["bob@x.example"]]
    preview = checked(admin_client, "people.xlsx", xlsx_bytes(rows))
    with django_capture_on_commit_callbacks(execute=False):  # the emails wait
        imports.invitation_import_confirm(actor=admin, import_id=preview["id"])
        imports.invitation_import_store(import_id=preview["id"], now=timezone.now())
    assert _progress(admin_client, preview["id"])["mail_done"] is False

    # The admin deletes one invitation (its waiting email goes with it); the other is sent.
    invitation_delete(actor=admin, invitation_id=Invitation.objects.get(email="ann@x.example").pk)
    with django_capture_on_commit_callbacks(execute=True):
        deliver_invitation_messages.enqueue()

    progress = _progress(admin_client, preview["id"])
    assert (progress["emails_queued"], progress["emails_sent"]) == (2, 1)
    assert progress["mail_done"] is True
    assert not _polls(admin_client, preview["id"])


def test_emails_queued_counts_what_was_queued_not_what_was_planned(
    admin, admin_client, invite, django_capture_on_commit_callbacks, monkeypatch
):
    expired = invite("old@x.example")
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    rows = [["email"], ["old@x.example"], ["new@x.example"]]
    preview = checked(admin_client, "people.xlsx", xlsx_bytes(rows))
    assert preview["summary"]["emails"] == 2  # a renewal and a new invitation
    with django_capture_on_commit_callbacks(execute=False):
        imports.invitation_import_confirm(actor=admin, import_id=preview["id"])

    # Accepted after the plan was verified, before its chunk is stored: not renewed.
    real_apply = imports.apply_plan

    def accepted_meanwhile(**kwargs):
        Invitation.objects.filter(pk=expired.pk).update(status="accepted")
        return real_apply(**kwargs)

    monkeypatch.setattr(imports, "apply_plan", accepted_meanwhile)
    with django_capture_on_commit_callbacks(execute=True):
        imports.invitation_import_store(import_id=preview["id"], now=timezone.now())

    progress = _progress(admin_client, preview["id"])
    assert (progress["emails_queued"], progress["emails_sent"]) == (1, 1)
    assert progress["mail_done"] is True


def test_an_import_refused_for_its_errors_has_its_mail_done_at_once(admin_client):
    """It will never send anything: a client polling until ``mail_done`` stops."""
    preview = checked(admin_client, "people.xlsx", xlsx_bytes([["email"], ["not an address"]]))
    assert preview["progress"]["status"] == "invalid"
    progress = _progress(admin_client, preview["id"])
    assert (progress["emails_queued"], progress["mail_done"]) == (0, True)
    assert not _polls(admin_client, preview["id"])


# --- Stop sending ---------------------------------------------------------------------------


def _stored_with_emails_waiting(admin, admin_client, count: int) -> int:
    """An import confirmed and stored whose emails wait for the worker."""
    rows = [["email"], *([f"p{n}@x.example"] for n in range(1, count + 1))]
    preview = checked(admin_client, "people.xlsx", xlsx_bytes(rows))
    with TestCase.captureOnCommitCallbacks(execute=False):  # no worker runs
        imports.invitation_import_confirm(actor=admin, import_id=preview["id"])
        imports.invitation_import_store(import_id=preview["id"], now=timezone.now())
    return preview["id"]


def test_an_admin_stops_the_emails_of_an_import_that_have_not_gone(admin, admin_client):
    import_id = _stored_with_emails_waiting(admin, admin_client, 3)
    # One went out before the admin noticed the wrong message.
    first = InvitationMessage.objects.order_by("pk").first()
    InvitationMessage.objects.filter(pk=first.pk).update(sent_at=timezone.now())
    assert _polls(admin_client, import_id)
    page = admin_client.get(reverse("web:import", args=[import_id])).content.decode()
    assert 'data-testid="stop-sending"' in page

    response = admin_client.post(reverse("web:import-stop-sending", args=[import_id]), follow=True)
    assert "2 emails will not be sent. The invitations stay pending" in response.content.decode()
    progress = _progress(admin_client, import_id)
    assert (progress["emails_sent"], progress["emails_not_sent"]) == (1, 2)
    assert progress["mail_done"] is True
    assert not _polls(admin_client, import_id)

    # The worker sends nothing more; the invitations stay, pending, to resend or delete.
    deliver_invitation_messages.call()
    assert mail.outbox == []
    assert sorted(Invitation.objects.values_list("status", flat=True)) == ["pending"] * 3
    event = AuditEvent.objects.get(verb="invitation_import.sending_stopped")
    assert (event.actor, event.details["cancelled"]) == (admin, 2)


def test_stopping_through_the_api_twice_cancels_nothing_more(admin, admin_client):
    import_id = _stored_with_emails_waiting(admin, admin_client, 2)
    url = f"/api/v1/invitations/imports/{import_id}/stop-sending"
    first = admin_client.post(url)
    assert first.status_code == 200
    assert first.json()["progress"]["emails_not_sent"] == 2
    again = admin_client.post(url)
    assert again.status_code == 200
    events = AuditEvent.objects.filter(verb="invitation_import.sending_stopped")
    assert [e.details["cancelled"] for e in events.order_by("pk")] == [2, 0]


def test_sending_cannot_be_stopped_before_the_import_is_stored(admin_client, resident_client):
    preview = checked(admin_client, "people.xlsx", xlsx_bytes([["email"], ["p@x.example"]]))
    url = f"/api/v1/invitations/imports/{preview['id']}/stop-sending"
    response = admin_client.post(url)
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "import_not_stored"
    assert resident_client.post(url).status_code == 403
    assert not AuditEvent.objects.filter(verb="invitation_import.sending_stopped").exists()


def test_invitations_held_back_get_no_reminder_until_resent(admin, admin_client):
    """A reminder would be the first email they get, of the batch the admin held back."""
    import_id = _stored_with_emails_waiting(admin, admin_client, 2)
    admin_client.post(reverse("web:import-stop-sending", args=[import_id]))
    later = timezone.now() + timedelta(days=4)
    assert invitations_send_due_reminders(now=later) == 0

    # Resending one is an explicit request: it is sent, and reminded in its turn.
    held = Invitation.objects.order_by("pk").first()
    invitation_resend(actor=admin, invitation_id=held.pk)
    deliver_invitation_messages.call()
    assert [m.to for m in mail.outbox] == [[held.email]]
    assert invitations_send_due_reminders(now=timezone.now() + timedelta(days=4)) == 1


def test_the_emails_of_an_import_that_failed_part_way_can_be_stopped(
    admin, admin_client, monkeypatch
):
    """Storing broke after the first chunk: its emails wait, and nothing will resume it."""
    monkeypatch.setattr(imports, "CHUNK", 2)
    rows = [["email"], *([f"p{n}@x.example"] for n in range(1, 5))]
    preview = checked(admin_client, "people.xlsx", xlsx_bytes(rows))
    _break_on_the_second_chunk(monkeypatch, RuntimeError("the database went away"))
    with TestCase.captureOnCommitCallbacks(execute=False):  # no worker sends
        imports.invitation_import_confirm(actor=admin, import_id=preview["id"])
        with pytest.raises(RuntimeError):
            imports.invitation_import_store(import_id=preview["id"], now=timezone.now())
    imports.invitation_import_fail(import_id=preview["id"], reason="broke", now=timezone.now())
    assert _progress(admin_client, preview["id"])["status"] == "failed"
    page = admin_client.get(reverse("web:import", args=[preview["id"]])).content.decode()
    assert 'data-testid="stop-sending"' in page

    response = admin_client.post(f"/api/v1/invitations/imports/{preview['id']}/stop-sending")
    assert response.status_code == 200
    assert response.json()["progress"]["emails_not_sent"] == 2
    deliver_invitation_messages.call()
    assert mail.outbox == []

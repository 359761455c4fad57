"""The worker runs the periodic sweeps by itself: no cron under `make run`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from portico.core import sweeps
from portico.core.models import CapturedEmail
from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.services.create import (
    InviteOptions,
    invitation_create_batch,
    parse_typed_emails,
)


def test_the_invitations_register_expiry_reminders_and_the_outbox():
    assert {
        "invitations.expire",
        "invitations.reminders",
        "invitations.outbox",
        "invitations.stalled_imports",
    } <= set(sweeps.SWEEPS)


def test_a_failing_sweep_does_not_stop_the_others(monkeypatch):
    calls = []

    def broken(*, now):
        raise RuntimeError("boom")

    def working(*, now):
        calls.append(now)
        return 3

    monkeypatch.setattr(sweeps, "SWEEPS", {"broken": broken, "working": working})
    now = timezone.now()

    assert sweeps.run_sweeps(now=now) == {"broken": -1, "working": 3}
    assert calls == [now]


def _invitation_due_for_a_reminder(admin) -> Invitation:
    invitation_create_batch(
        actor=admin, rows=parse_typed_emails("late@example.org"), options=InviteOptions()
    )
    invitation = Invitation.objects.get()
    four_days_ago = timezone.now() - timedelta(days=4)
    Invitation.objects.filter(pk=invitation.pk).update(sent_at=four_days_ago)
    InvitationMessage.objects.all().delete()  # the invitation email is not the point here
    return invitation


def _descendants(pid: int) -> list[int]:
    """The process ids below ``pid`` (Linux: /proc/<pid>/task/<tid>/children)."""
    children = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children += [int(child) for child in listing.read_text().split()]
        except OSError:  # the thread or the process ended meanwhile
            continue
    return [p for child in children for p in (child, *_descendants(child))]


def _run_worker_until_an_email_is_captured(**environ: str) -> tuple[str, list[int]]:
    """Run a real `manage.py run_worker` (database task backend, dev mailbox) on the
    test database until it has captured an email. Returns its output and the processes
    it had started by then."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{database['NAME']}"
    else:
        url = (
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "EMAIL_URL": "capture://",
        "DJANGO_SETTINGS_MODULE": "portico.settings",
        "PORTICO_SWEEP_INTERVAL": "1",
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "PYTHONUNBUFFERED": "1",
        **environ,
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    started: list[int] = []
    try:
        deadline = time.monotonic() + 60  # a bound on waiting, not a timing assertion
        while time.monotonic() < deadline and not CapturedEmail.objects.exists():
            time.sleep(0.2)
        started = _descendants(worker.pid)
        time.sleep(2)  # two more sweeps: time for a second sweeper to send it again
    finally:
        leftovers = _descendants(worker.pid)
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")
        for pid in leftovers:  # an autoreloader's child outlives its parent
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return output, started


@pytest.mark.django_db(transaction=True)
def test_the_worker_process_sends_the_reminder_by_itself(admin):
    """A real worker on the test database sends a due reminder with no one asking it to."""
    invitation = _invitation_due_for_a_reminder(admin)

    output, _started = _run_worker_until_an_email_is_captured()

    reminder = CapturedEmail.objects.get()
    assert reminder.recipients == ["late@example.org"]
    assert "Reminder" in reminder.subject, output
    invitation.refresh_from_db()
    assert invitation.reminder_sent_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_debug_worker_runs_tasks_and_sweeps_in_one_process_without_autoreload(admin):
    """With DEBUG on (as `make run` sets it) the worker does not restart itself under an
    autoreloader: that would leave the parent sweeping with the old code next to the
    child, and a code edit would kill a running task."""
    _invitation_due_for_a_reminder(admin)

    output, started = _run_worker_until_an_email_is_captured(DEBUG="true")

    assert started == [], output
    assert "Watching for file changes" not in output
    reminder = CapturedEmail.objects.get()
    assert "Reminder" in reminder.subject, output

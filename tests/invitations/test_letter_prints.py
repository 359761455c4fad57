"""Prints of letters drawn by the worker: the selection and its stable errors, the queue
after commit, the PDF stored in the private file storage, the progress, idempotence, a
stopped worker caught up, an overtaken run that keeps nothing, failures that say why,
and the audited downloads.

Tasks run inline after commit (django.tasks' Immediate backend); the PDFs are read back
with tests.invitations.pdf."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portico.core import sweeps
from portico.core.errors import ApplicationError
from portico.core.models import AuditEvent
from portico.invitations.models import Invitation, LetterPrint
from portico.invitations.services import letters
from portico.invitations.services.letters import (
    letter_print_download,
    letter_print_draw,
    letter_print_start,
    letter_prints_resume_stalled,
)
from tests.invitations.pdf import Page, pdf_pages
from tests.invitations.printing import accept, code_on

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 15, 9, 30, tzinfo=ZoneInfo("Europe/Brussels"))
# How a run records its progress (the claim and the end set other columns first).
PROGRESS = 'UPDATE "invitations_letterprint" SET "drawn" = '


@pytest.fixture
def pending(codes):
    """``pending("nl-BE", "fr-BE", ...)``: one batch of registration codes, one per
    language, named Person 2, Person 3... Returns the invitations in order."""

    def create(*languages: str) -> list[Invitation]:
        batch = codes(*((f"Person {n}", "", lang) for n, lang in enumerate(languages, start=2)))
        return list(Invitation.objects.filter(pk__in=batch.invitation_ids).order_by("id"))

    return create


@pytest.fixture
def start(admin, django_capture_on_commit_callbacks):
    """``start(batch_id=..., ids=...)``: the admin's print, committed, and drawn by the
    worker after commit (the task runs inline)."""

    def run(**selection) -> LetterPrint:
        with django_capture_on_commit_callbacks(execute=True):
            letter_print = letter_print_start(actor=admin, **selection)
        letter_print.refresh_from_db()
        return letter_print

    return run


def pages_of(letter_print: LetterPrint) -> list[Page]:
    with default_storage.open(letter_print.file.name, "rb") as pdf:
        return pdf_pages(pdf.read())


def download(admin, letter_print: LetterPrint) -> list[Page]:
    got = letter_print_download(actor=admin, print_id=letter_print.pk)
    with got.file:
        return pdf_pages(got.file.read())


def entries(verb: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb=verb).order_by("id"))


# --- Starting and drawing ------------------------------------------------------------------


def test_a_print_is_queued_after_commit_then_drawn_into_a_stored_pdf(
    admin, pending, django_capture_on_commit_callbacks
):
    invitations = pending("en", "nl-BE", "fr-BE")
    batch_id = invitations[0].batch_id

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        letter_print = letter_print_start(actor=admin, batch_id=batch_id)
    queued = LetterPrint.objects.get(pk=letter_print.pk)
    assert (queued.status, queued.total, queued.drawn, queued.file.name) == ("queued", 3, 0, "")
    assert len(callbacks) == 1  # the task is queued once the print is committed

    callbacks[0]()

    done = LetterPrint.objects.get(pk=letter_print.pk)
    assert (done.status, done.total, done.drawn, done.attempts) == ("done", 3, 3, 1)
    assert done.file.name == f"letters/{done.pk}-1.pdf"
    assert default_storage.exists(done.file.name)  # the uploads' storage, served by no URL
    assert done.finished_at is not None
    assert [code_on(p) for p in pages_of(done)] == [i.token_display for i in invitations]


def test_each_letter_is_in_its_invitations_language_and_dated_when_drawn(admin, pending, start):
    invitations = pending("nl-BE", "fr-BE")
    with time_machine.travel(NOW, tick=False):
        letter_print = start(batch_id=invitations[0].batch_id)

    dutch, french = pages_of(letter_print)

    assert "Beste Person 2," in dutch.strings
    assert "15 maart 2026" in dutch.strings
    assert "Bonjour Person 3," in french.strings
    assert "15 mars 2026" in french.strings


def test_a_print_of_ids_draws_the_pending_ones_in_the_order_of_their_ids(admin, pending, start):
    first, used, lapsed, last = pending("en", "en", "en", "en")
    accept(used, "used@x.example")
    Invitation.objects.filter(pk=lapsed.pk).update(expires_at=timezone.now() - timedelta(hours=1))

    letter_print = start(ids=[last.pk, used.pk, lapsed.pk, first.pk, 999_999, first.pk])

    assert letter_print.ids == sorted({last.pk, used.pk, lapsed.pk, first.pk, 999_999})
    assert (letter_print.total, letter_print.drawn) == (2, 2)
    assert [code_on(p) for p in pages_of(letter_print)] == [
        first.token_display,
        last.token_display,
    ]


def test_a_batch_and_ids_together_print_the_ids_within_the_batch(admin, pending, start):
    ours = pending("en", "en")
    others = pending("en")

    letter_print = start(batch_id=ours[0].batch_id, ids=[ours[1].pk, others[0].pk])

    assert [code_on(p) for p in pages_of(letter_print)] == [ours[1].token_display]


@pytest.mark.parametrize(
    ("selection", "code", "status"),
    [
        ({}, "invalid", 422),
        ({"batch_id": 999_999}, "not_found", 404),
        ({"ids": []}, "no_letters", 422),
        ({"ids": [999_999]}, "no_letters", 422),
        ({"used": True}, "no_letters", 422),
    ],
)
def test_a_selection_that_prints_nothing_is_refused_with_a_stable_code(
    admin, pending, selection, code, status
):
    if selection.pop("used", False):
        (invitation,) = pending("en")
        accept(invitation, "used@x.example")
        selection = {"batch_id": invitation.batch_id}

    with pytest.raises(ApplicationError) as raised:
        letter_print_start(actor=admin, **selection)

    assert (raised.value.code, raised.value.status) == (code, status)
    assert not LetterPrint.objects.exists()
    assert entries("invitation.letters_requested") == []


def test_more_letters_than_one_print_holds_is_too_many_letters(admin, pending, start, settings):
    settings.PORTICO_MAX_LETTERS = 2
    invitations = pending("en", "en", "en")
    ids = [i.pk for i in invitations]

    for selection in ({"batch_id": invitations[0].batch_id}, {"ids": ids}):
        with pytest.raises(ApplicationError) as raised:
            letter_print_start(actor=admin, **selection)
        error = raised.value.as_dict()
        assert (error["code"], error["limit"], error["count"]) == ("too_many_letters", 2, 3)
        assert raised.value.status == 422
    assert not LetterPrint.objects.exists()

    assert start(ids=ids[:2]).drawn == 2  # the limit itself is fine


def test_starting_a_print_is_audited_with_its_selection(admin, pending, start):
    invitations = pending("en", "en")

    by_batch = start(batch_id=invitations[0].batch_id)
    by_ids = start(ids=[invitations[1].pk])

    first, second = entries("invitation.letters_requested")
    assert (first.actor, first.target_id) == (admin, str(by_batch.pk))
    assert first.details == {
        "count": 2,
        "batch": invitations[0].batch_id,
        "ids": None,
        "ids_count": None,
    }
    assert second.target_id == str(by_ids.pk)
    assert second.details == {
        "count": 1,
        "batch": None,
        "ids": [invitations[1].pk],
        "ids_count": 1,
    }


def test_a_print_of_many_ids_keeps_the_audit_log_light(admin, admin_client, pending, start):
    (invitation,) = pending("en")
    # As many ids as a print may name: listed in the audit log, they would weigh 700 KB
    # on its page (a page shows 100 entries), and as much again each time it is read.
    ids = [invitation.pk, *range(10**9, 10**9 + 99_999)]

    letter_print = start(ids=ids)

    (entry,) = entries("invitation.letters_requested")
    assert entry.details == {"count": 1, "batch": None, "ids": None, "ids_count": 100_000}
    assert len(admin_client.get(reverse("web:audit-log")).content) < 50_000
    assert letter_print.ids == sorted(ids)  # the print the entry names keeps them all


def test_the_progress_moves_every_few_hundred_letters(admin, pending, start, monkeypatch):
    monkeypatch.setattr(letters, "PROGRESS_EVERY", 2)
    invitations = pending(*["en"] * 5)

    with CaptureQueriesContext(connection) as queries:
        letter_print = start(batch_id=invitations[0].batch_id)

    recorded = [
        int(match.group(1))
        for query in queries
        if (match := re.match(PROGRESS + r"(\d+), ", query["sql"]))
    ]
    assert recorded == [2, 4]  # then done: 5
    assert (letter_print.status, letter_print.drawn) == ("done", 5)


# --- Idempotence, a stopped worker, an overtaken run ---------------------------------------


def test_drawing_a_print_again_changes_nothing(admin, pending, start):
    invitations = pending("en", "en")
    letter_print = start(batch_id=invitations[0].batch_id)

    again = letter_print_draw(print_id=letter_print.pk, now=timezone.now())

    assert (again.status, again.attempts, again.file.name) == (
        "done",
        1,
        letter_print.file.name,
    )
    assert default_storage.listdir("letters")[1] == [f"{letter_print.pk}-1.pdf"]


def test_a_print_whose_worker_stopped_is_queued_again_and_drawn_from_the_start(
    admin, pending, django_capture_on_commit_callbacks
):
    invitations = pending("en", "en", "en")
    with django_capture_on_commit_callbacks(execute=False):  # the worker never got to it...
        letter_print = letter_print_start(actor=admin, batch_id=invitations[0].batch_id)
    # ...or rather, it claimed it, drew two letters, stored its PDF and died.
    LetterPrint.objects.filter(pk=letter_print.pk).update(
        status=LetterPrint.Status.DRAWING, attempts=1, drawn=2, heartbeat_at=timezone.now()
    )
    default_storage.save(f"letters/{letter_print.pk}-1.pdf", ContentFile(b"%PDF-1.4 half"))

    assert letter_prints_resume_stalled(now=timezone.now()) == 0  # not stalled yet
    later = timezone.now() + timedelta(minutes=6)
    with django_capture_on_commit_callbacks(execute=True):
        assert letter_prints_resume_stalled(now=later) == 1

    done = LetterPrint.objects.get(pk=letter_print.pk)
    assert (done.status, done.drawn, done.attempts) == ("done", 3, 2)
    assert [code_on(p) for p in pages_of(done)] == [i.token_display for i in invitations]
    assert default_storage.listdir("letters")[1] == [f"{done.pk}-2.pdf"]  # the stray is gone


def stopped_after_storing(admin, invitations, django_capture_on_commit_callbacks):
    """A print whose first run stored its PDF (the letters' working codes) and died
    before recording it; the worker has not drawn it again yet."""
    with django_capture_on_commit_callbacks(execute=False):
        letter_print = letter_print_start(actor=admin, batch_id=invitations[0].batch_id)
    LetterPrint.objects.filter(pk=letter_print.pk).update(
        status=LetterPrint.Status.DRAWING, attempts=1, drawn=2, heartbeat_at=timezone.now()
    )
    default_storage.save(f"letters/{letter_print.pk}-1.pdf", ContentFile(b"%PDF-1.4 codes"))
    return letter_print


def test_a_print_drawn_again_that_finds_nothing_left_keeps_no_earlier_pdf(
    admin, pending, django_capture_on_commit_callbacks
):
    invitations = pending("en", "en")
    letter_print = stopped_after_storing(admin, invitations, django_capture_on_commit_callbacks)
    for n, invitation in enumerate(invitations):
        accept(invitation, f"person{n}@x.example")

    with django_capture_on_commit_callbacks(execute=True):
        assert letter_prints_resume_stalled(now=timezone.now() + timedelta(minutes=6)) == 1

    failed = LetterPrint.objects.get(pk=letter_print.pk)
    assert (failed.status, failed.attempts, failed.file.name) == ("failed", 2, "")
    # The retention sweep only knows the print's own file: nothing else may stay behind.
    assert default_storage.listdir("letters")[1] == []


def test_a_print_drawn_again_that_breaks_keeps_no_earlier_pdf(
    admin, pending, settings, django_capture_on_commit_callbacks
):
    invitations = pending("en", "en")
    letter_print = stopped_after_storing(admin, invitations, django_capture_on_commit_callbacks)
    settings.BASE_URL = None  # misconfigured: the second run cannot draw a page
    later = timezone.now() + timedelta(minutes=6)

    with django_capture_on_commit_callbacks(execute=True):  # the task fails, and says why
        assert letter_prints_resume_stalled(now=later) == 1

    failed = LetterPrint.objects.get(pk=letter_print.pk)
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert failed.failure.startswith("TypeError: ")
    assert default_storage.listdir("letters")[1] == []


def test_a_print_queued_but_never_picked_up_is_queued_again(
    admin, pending, django_capture_on_commit_callbacks
):
    invitations = pending("en")
    with django_capture_on_commit_callbacks(execute=False):  # the task was lost
        letter_print = letter_print_start(actor=admin, batch_id=invitations[0].batch_id)

    with django_capture_on_commit_callbacks(execute=True):
        assert letter_prints_resume_stalled(now=timezone.now() + timedelta(minutes=6)) == 1

    assert LetterPrint.objects.get(pk=letter_print.pk).status == "done"
    assert letter_prints_resume_stalled(now=timezone.now() + timedelta(hours=1)) == 0


def test_the_worker_sweeps_for_stalled_prints_beside_stalled_imports():
    assert sweeps.SWEEPS["invitations.stalled_letters"] is letter_prints_resume_stalled
    assert "invitations.stalled_imports" in sweeps.SWEEPS


def test_a_run_overtaken_by_a_newer_one_stops_and_keeps_no_file(
    admin, pending, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(letters, "PROGRESS_EVERY", 1)
    invitations = pending("en", "en", "en")
    with django_capture_on_commit_callbacks(execute=False):
        letter_print = letter_print_start(actor=admin, batch_id=invitations[0].batch_id)
    swept = []

    def sweep_before_the_first_progress(execute, sql, params, many, context):
        # The sweep takes the first run for dead just before it records its first letter.
        if not swept and sql.startswith(PROGRESS):
            swept.append(None)  # once: the sweep's own queries come through here too
            swept[0] = letter_prints_resume_stalled(now=timezone.now() + timedelta(hours=1))
        return execute(sql, params, many, context)

    with (
        django_capture_on_commit_callbacks(execute=False) as queued_again,
        connection.execute_wrapper(sweep_before_the_first_progress),
    ):
        first_run = letter_print_draw(print_id=letter_print.pk, now=timezone.now())

    assert swept == [1]
    assert (first_run.status, first_run.attempts, first_run.file.name) == ("queued", 1, "")
    assert not default_storage.exists(f"letters/{letter_print.pk}-1.pdf")
    queued_again[0]()  # the newer run
    done = LetterPrint.objects.get(pk=letter_print.pk)
    assert (done.status, done.drawn, done.attempts) == ("done", 3, 2)
    assert default_storage.listdir("letters")[1] == [f"{done.pk}-2.pdf"]


# --- Failures ------------------------------------------------------------------------------


def test_a_print_whose_invitations_were_used_before_it_was_drawn_fails_saying_so(
    admin, pending, django_capture_on_commit_callbacks
):
    invitations = pending("en")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        letter_print = letter_print_start(actor=admin, batch_id=invitations[0].batch_id)
    accept(invitations[0], "quick@x.example")

    callbacks[0]()

    failed = LetterPrint.objects.get(pk=letter_print.pk)
    assert (failed.status, failed.file.name) == ("failed", "")
    assert failed.failure.startswith("Nothing to print")


def test_a_print_that_breaks_is_marked_failed_with_the_reason(
    admin, pending, settings, tmp_path, django_capture_on_commit_callbacks
):
    invitations = pending("en")
    with django_capture_on_commit_callbacks(execute=False):
        letter_print = letter_print_start(actor=admin, batch_id=invitations[0].batch_id)
    # The file storage is broken: its folder is a file.
    settings.MEDIA_ROOT = tmp_path / "not-a-folder"
    settings.MEDIA_ROOT.write_bytes(b"")

    with pytest.raises(NotADirectoryError):
        letter_print_draw(print_id=letter_print.pk, now=timezone.now())

    failed = LetterPrint.objects.get(pk=letter_print.pk)
    assert failed.status == "failed"
    assert failed.failure.startswith("NotADirectoryError: ")
    assert letter_prints_resume_stalled(now=timezone.now() + timedelta(hours=1)) == 0


# --- Downloads -----------------------------------------------------------------------------


def test_every_download_is_audited(admin, pending, start):
    invitations = pending("en", "fr-BE")
    letter_print = start(batch_id=invitations[0].batch_id)

    first = download(admin, letter_print)
    second = download(admin, letter_print)

    assert [code_on(p) for p in first] == [i.token_display for i in invitations]
    assert len(second) == 2
    downloads = entries("invitation.letters_downloaded")
    assert len(downloads) == 2
    assert all(e.actor == admin and e.target_id == str(letter_print.pk) for e in downloads)
    assert downloads[0].details == {"count": 2, "batch": invitations[0].batch_id}


def test_a_print_not_drawn_yet_cannot_be_downloaded(
    admin, pending, django_capture_on_commit_callbacks
):
    invitations = pending("en")
    with django_capture_on_commit_callbacks(execute=False):
        letter_print = letter_print_start(actor=admin, batch_id=invitations[0].batch_id)

    with pytest.raises(ApplicationError) as raised:
        letter_print_download(actor=admin, print_id=letter_print.pk)

    error = raised.value
    assert (error.code, error.status, error.as_dict()["print_status"]) == (
        "letters_not_ready",
        409,
        "queued",
    )
    assert entries("invitation.letters_downloaded") == []


def test_an_unknown_print_is_not_found(admin):
    with pytest.raises(ApplicationError) as raised:
        letter_print_download(actor=admin, print_id=999_999)

    assert (raised.value.code, raised.value.status) == ("not_found", 404)


def test_a_print_whose_file_went_missing_is_gone(admin, pending, start):
    invitations = pending("en")
    letter_print = start(batch_id=invitations[0].batch_id)
    default_storage.delete(letter_print.file.name)

    with pytest.raises(ApplicationError) as raised:
        letter_print_download(actor=admin, print_id=letter_print.pk)

    assert (raised.value.code, raised.value.status) == ("letters_deleted", 410)
    assert entries("invitation.letters_downloaded") == []

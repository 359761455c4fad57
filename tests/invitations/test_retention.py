"""Uploaded spreadsheets are kept PORTICO_IMPORT_RETENTION (7 days) once their import is
over (done, invalid or failed), then deleted by the worker's sweep; an import still in
progress keeps its file whatever its age. The PDF of a print of letters is kept
PORTICO_LETTERS_RETENTION (7 days) after it was drawn, then deleted by a sweep too."""

from __future__ import annotations

import runpy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

import portico.settings
from portico.core import sweeps
from portico.invitations.models import InvitationImport, LetterPrint
from portico.invitations.services.letters import letter_print_start
from portico.invitations.services.retention import (
    invitation_imports_forget_files,
    letter_prints_forget_files,
)
from tests.invitations.sheet_files import (
    API,
    HEADER,
    checked,
    confirm,
    csv_bytes,
    read_xlsx,
    xlsx_bytes,
)

pytestmark = pytest.mark.django_db

UPLOADED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WEEK_LATER = UPLOADED_AT + timedelta(days=7, minutes=1)


def _upload_at(client, moment: datetime, content: bytes, name: str = "people.xlsx") -> int:
    with time_machine.travel(moment, tick=False):
        return checked(client, name, content)["id"]


def _valid() -> bytes:
    return xlsx_bytes([HEADER, ["ann@x.example", "Ann"]])


def _invalid() -> bytes:
    return csv_bytes([HEADER, ["not an address", "Bob"], ["cy@x.example", "Cy"]])


def _stored_path(import_id: int) -> Path:
    return Path(InvitationImport.objects.get(pk=import_id).file.path)


def _import(import_id: int) -> InvitationImport:
    return InvitationImport.objects.get(pk=import_id)


def test_the_files_of_finished_imports_are_deleted_a_week_after_the_upload(admin_client):
    done = _upload_at(admin_client, UPLOADED_AT, _valid())
    with time_machine.travel(UPLOADED_AT, tick=False):
        assert confirm(admin_client, done).status_code == 202
    invalid = _upload_at(admin_client, UPLOADED_AT, _invalid(), "people.csv")
    assert (_import(done).status, _import(invalid).status) == ("done", "invalid")
    paths = [_stored_path(done), _stored_path(invalid)]
    assert all(path.is_file() for path in paths)

    assert invitation_imports_forget_files(now=WEEK_LATER) == 2

    assert not any(path.exists() for path in paths)
    assert _import(done).file.name == ""
    assert _import(invalid).file.name == ""
    assert _import(done).status == "done"  # the import itself and its figures remain


def test_a_failed_imports_file_is_deleted_too(admin_client):
    failed = _upload_at(admin_client, UPLOADED_AT, _valid())
    InvitationImport.objects.filter(pk=failed).update(status=InvitationImport.Status.FAILED)
    path = _stored_path(failed)

    assert invitation_imports_forget_files(now=WEEK_LATER) == 1

    assert not path.exists()


def test_a_file_younger_than_the_retention_is_kept(admin_client):
    invalid = _upload_at(admin_client, UPLOADED_AT, _invalid(), "people.csv")
    path = _stored_path(invalid)

    assert invitation_imports_forget_files(now=UPLOADED_AT + timedelta(days=6, hours=23)) == 0

    assert path.is_file()
    assert _import(invalid).file.name != ""


@pytest.mark.parametrize("status", ["checking", "ready", "storing"])
def test_an_import_in_progress_keeps_its_file_whatever_its_age(admin_client, status):
    pending = _upload_at(admin_client, UPLOADED_AT, _valid())
    InvitationImport.objects.filter(pk=pending).update(status=status)
    path = _stored_path(pending)

    assert invitation_imports_forget_files(now=UPLOADED_AT + timedelta(days=365)) == 0

    assert path.is_file()


def test_the_retention_is_the_setting(admin_client, settings):
    settings.PORTICO_IMPORT_RETENTION = "2h"
    invalid = _upload_at(admin_client, UPLOADED_AT, _invalid(), "people.csv")
    path = _stored_path(invalid)

    assert invitation_imports_forget_files(now=UPLOADED_AT + timedelta(hours=1)) == 0
    assert invitation_imports_forget_files(now=UPLOADED_AT + timedelta(hours=2, seconds=1)) == 1
    assert not path.exists()


def test_sweeping_again_deletes_nothing_more(admin_client):
    _upload_at(admin_client, UPLOADED_AT, _invalid(), "people.csv")
    assert invitation_imports_forget_files(now=WEEK_LATER) == 1

    assert invitation_imports_forget_files(now=WEEK_LATER + timedelta(days=1)) == 0


def test_a_file_already_gone_from_the_disk_is_forgotten_all_the_same(admin_client):
    invalid = _upload_at(admin_client, UPLOADED_AT, _invalid(), "people.csv")
    _stored_path(invalid).unlink()

    assert invitation_imports_forget_files(now=WEEK_LATER) == 1

    assert _import(invalid).file.name == ""


def test_the_errors_download_still_lists_the_errors_once_the_file_is_deleted(admin_client):
    invalid = _upload_at(admin_client, UPLOADED_AT, _invalid(), "people.csv")
    invitation_imports_forget_files(now=WEEK_LATER)

    response = admin_client.get(f"{API}/imports/{invalid}/errors.xlsx")

    assert response.status_code == 200
    rows = read_xlsx(b"".join(response.streaming_content))
    assert rows[0] == ["row", "errors"]
    assert [row[0] for row in rows[1:]] == ["2"]
    assert rows[1][1].startswith("invalid_email: ")


def test_the_worker_runs_the_retention_sweep():
    assert sweeps.SWEEPS["invitations.import_files"] is invitation_imports_forget_files


@pytest.mark.parametrize("setting", ["PORTICO_IMPORT_RETENTION", "PORTICO_LETTERS_RETENTION"])
@pytest.mark.parametrize(("environ", "retention"), [(None, "7d"), ("48h", "48h")])
def test_the_retention_is_read_from_the_environment(monkeypatch, setting, environ, retention):
    if environ is None:
        monkeypatch.delenv(setting, raising=False)
    else:
        monkeypatch.setenv(setting, environ)

    configured = runpy.run_path(portico.settings.__file__)

    assert configured[setting] == retention


# --- Printed letters ---------------------------------------------------------------------


def _drawn_at(admin, moment: datetime, make_code, capture) -> LetterPrint:
    """A print of one code, drawn at ``moment`` (the worker runs it after commit)."""
    code = make_code()
    with time_machine.travel(moment, tick=False), capture(execute=True):
        letter_print = letter_print_start(actor=admin, ids=[code.pk])
    letter_print.refresh_from_db()
    assert letter_print.status == "done"
    return letter_print


def test_a_prints_pdf_is_deleted_a_week_after_it_was_drawn(
    admin, make_code, django_capture_on_commit_callbacks
):
    letter_print = _drawn_at(admin, UPLOADED_AT, make_code, django_capture_on_commit_callbacks)
    path = Path(letter_print.file.path)
    assert path.is_file()

    assert letter_prints_forget_files(now=UPLOADED_AT + timedelta(days=6, hours=23)) == 0
    assert path.is_file()
    assert letter_prints_forget_files(now=WEEK_LATER) == 1

    assert not path.exists()
    kept = LetterPrint.objects.get(pk=letter_print.pk)
    assert (kept.file.name, kept.status, kept.drawn) == ("", "done", 1)  # its figures stay
    assert letter_prints_forget_files(now=WEEK_LATER + timedelta(days=1)) == 0


def test_the_letters_retention_is_the_setting(
    admin, make_code, settings, django_capture_on_commit_callbacks
):
    settings.PORTICO_LETTERS_RETENTION = "2h"
    letter_print = _drawn_at(admin, UPLOADED_AT, make_code, django_capture_on_commit_callbacks)

    assert letter_prints_forget_files(now=UPLOADED_AT + timedelta(hours=1)) == 0
    assert letter_prints_forget_files(now=UPLOADED_AT + timedelta(hours=2, seconds=1)) == 1
    assert not Path(letter_print.file.path).exists()


def test_a_print_still_drawing_has_nothing_to_delete(
    admin, make_code, django_capture_on_commit_callbacks
):
    code = make_code()
    with (
        time_machine.travel(UPLOADED_AT, tick=False),
        django_capture_on_commit_callbacks(execute=False),
    ):
        letter_print_start(actor=admin, ids=[code.pk])

    assert letter_prints_forget_files(now=UPLOADED_AT + timedelta(days=365)) == 0


def test_the_worker_runs_the_letters_retention_sweep():
    assert sweeps.SWEEPS["invitations.letter_files"] is letter_prints_forget_files

"""Retention of files: sweeps delete

- the file of a finished import (done, invalid or failed) ``PORTICO_IMPORT_RETENTION``
  after its upload. The import itself stays (its figures, errors, preview and audit
  trail); its file field is emptied. An import still checking, waiting for its confirm
  or storing keeps its file whatever its age: a check reads it, and so does storing
  when the data changed since the check;
- the PDF of a print of letters ``PORTICO_LETTERS_RETENTION`` after it was drawn (the
  letters carry working tokens). The print stays, with its figures; its file field is
  emptied, and a download then answers ``letters_deleted``.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet

from portico.core.durations import parse_duration
from portico.invitations.models import InvitationImport, LetterPrint

FINISHED = (
    InvitationImport.Status.DONE,
    InvitationImport.Status.INVALID,
    InvitationImport.Status.FAILED,
)


def _forget_files(stale: QuerySet) -> int:
    """Delete the stored file of each row of ``stale`` that still has one and clear its
    ``file`` field. Returns how many rows lost their file.

    Idempotent and safe with any number of workers: the file goes first (deleting a file
    already gone is a no-op), then the field, so a crash in between is finished by the
    next sweep, and only the worker that clears the field counts the row."""
    model = stale.model
    storage = model._meta.get_field("file").storage
    forgotten = 0
    rows = stale.exclude(file="").order_by("pk").values_list("pk", "file")
    for pk, name in rows.iterator(chunk_size=500):
        storage.delete(name)
        forgotten += model.objects.filter(pk=pk, file=name).update(file="")
    return forgotten


def invitation_imports_forget_files(*, now: datetime) -> int:
    """Delete the stored file of every finished import created more than
    ``PORTICO_IMPORT_RETENTION`` before ``now`` and clear its file field. Returns how
    many imports lost their file (see :func:`_forget_files`)."""
    cutoff = now - parse_duration(settings.PORTICO_IMPORT_RETENTION)
    return _forget_files(
        InvitationImport.objects.filter(created_at__lt=cutoff, status__in=FINISHED)
    )


def letter_prints_forget_files(*, now: datetime) -> int:
    """Delete the PDF of every print drawn more than ``PORTICO_LETTERS_RETENTION``
    before ``now`` and clear its file field. Returns how many prints lost their PDF
    (see :func:`_forget_files`)."""
    cutoff = now - parse_duration(settings.PORTICO_LETTERS_RETENTION)
    return _forget_files(LetterPrint.objects.filter(finished_at__lt=cutoff))

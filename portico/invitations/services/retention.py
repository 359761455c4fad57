"""Retention of uploaded spreadsheets: a sweep deletes the file of a finished import
(done, invalid or failed) ``PORTICO_IMPORT_RETENTION`` after its upload. The import
itself stays (its figures, errors, preview and audit trail); its file field is emptied.

An import still checking, waiting for its confirm or storing keeps its file whatever its
age: a check reads it, and so does storing when the data changed since the check.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from portico.core.durations import parse_duration
from portico.invitations.models import InvitationImport

FINISHED = (
    InvitationImport.Status.DONE,
    InvitationImport.Status.INVALID,
    InvitationImport.Status.FAILED,
)


def invitation_imports_forget_files(*, now: datetime) -> int:
    """Delete the stored file of every finished import created more than
    ``PORTICO_IMPORT_RETENTION`` before ``now`` and clear its file field. Returns how
    many imports lost their file.

    Idempotent and safe with any number of workers: the file goes first (deleting a file
    already gone is a no-op), then the field, so a crash in between is finished by the
    next sweep, and only the worker that clears the field counts the import."""
    cutoff = now - parse_duration(settings.PORTICO_IMPORT_RETENTION)
    storage = InvitationImport._meta.get_field("file").storage
    stale = (
        InvitationImport.objects.filter(created_at__lt=cutoff, status__in=FINISHED)
        .exclude(file="")
        .order_by("pk")
        .values_list("pk", "file")
    )
    forgotten = 0
    for pk, name in stale.iterator(chunk_size=500):
        storage.delete(name)
        forgotten += InvitationImport.objects.filter(pk=pk, file=name).update(file="")
    return forgotten

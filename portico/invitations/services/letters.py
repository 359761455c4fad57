"""Printing letters: which invitations get one, the limits, prints drawn by the worker,
and the audit entries.

A letter carries a working token, so printing is as sensitive as an export: only
pending invitations are printed (an accepted or expired one has nothing to offer), and
every PDF handed out is recorded in the audit log.

Two ways to print:

- A **print** (:class:`~portico.invitations.models.LetterPrint`), the usual way:
  :func:`letter_print_start` (admin) checks the selection and queues it;
  :func:`letter_print_draw` (worker) draws its PDF page by page into a file, in
  constant memory, recording its progress every :data:`PROGRESS_EVERY` letters;
  :func:`letter_print_download` (admin, audited) hands the PDF out until the retention
  sweep deletes it (``PORTICO_LETTERS_RETENTION``). At most ``PORTICO_MAX_LETTERS``.
  A print whose worker stopped (crash, restart) is queued again by
  :func:`letter_prints_resume_stalled` (a sweep of the worker) and drawn again from the
  start; the run it overtook stops at its next progress record and throws its file
  away, so a print has one PDF, never a mix of two.
- :func:`~portico.invitations.services.letters_in_request.invitation_letters_print`
  draws a small selection in the request, for ``GET /api/v1/invitations/letters.pdf``.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import IO, NamedTuple

from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
from django.db.models import Func, IntegerField, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from portico.accounts.models import User
from portico.core.audit import audit
from portico.core.durations import parse_duration
from portico.core.errors import ApplicationError, NotFound
from portico.invitations.letters import draw_letters, letters_filename
from portico.invitations.models import Invitation, InvitationBatch, LetterPrint

# What a page needs (see portico.invitations.letters), read this many at a time.
LETTER_FIELDS = ("id", "first_name", "last_name", "language", "token_nonce", "expires_at")
CHUNK = 500
# Ids counted per query: well below the number of parameters a query may carry.
COUNT_CHUNK = 10_000
# At most this many ids are listed in a print's audit entry: a print may name 100,000,
# and the audit log's page shows its entries in full.
AUDITED_IDS = 1_000
# A print records how far it got (and that its worker is alive) this often.
PROGRESS_EVERY = 250
# A print queued or drawing without progress for this long has lost its worker.
STALLED_AFTER = timedelta(minutes=5)


def invitations_for_letters(
    *, batch_id: int | None = None, ids: Iterable[int] | None = None, now: datetime
) -> QuerySet[Invitation]:
    """The invitations that get a letter: the pending ones (not accepted, not expired at
    ``now``) of batch ``batch_id`` and/or among ``ids``, oldest first (an import's
    letters come out in the order of its rows). Unknown ids select nothing."""
    invitations = Invitation.objects.pending(now)
    if batch_id is not None:
        invitations = invitations.filter(batch_id=batch_id)
    if ids is not None:
        invitations = invitations.filter(pk__in=list(ids))
    return invitations.order_by("id")


def checked_selection(*, batch_id: int | None, ids: Iterable[int] | None) -> list[int] | None:
    """The ids, sorted and once each, without those no invitation can have (beyond the
    range of the database's ids: they select nothing, as unknown ids do, and some
    databases refuse them in a query); ``invalid`` (422) without a batch or ids,
    ``not_found`` (404) for an unknown batch."""
    if batch_id is None and ids is None:
        raise ApplicationError(
            "invalid", _("Choose an import or invitations to print letters for."), status=422
        )
    if batch_id is not None and not InvitationBatch.objects.filter(pk=batch_id).exists():
        raise NotFound(_("No such batch."), batch=batch_id)
    if ids is None:
        return None
    low, high = connection.ops.integer_field_range(Invitation._meta.pk.get_internal_type())
    return sorted({pk for pk in ids if low <= pk <= high})


def no_letters_error() -> ApplicationError:
    return ApplicationError(
        "no_letters",
        _(
            "Nothing to print: letters are printed for pending invitations only, and "
            "the selection has none."
        ),
        status=422,
    )


# --- Prints drawn by the worker --------------------------------------------------------


def _chunks(*, batch_id: int | None, ids: list[int] | None, now: datetime) -> Iterator[list]:
    """The selection's pending invitations, ``CHUNK`` at a time in the order of their
    ids, with the fields a page needs only. A long list of ids is read slice by slice:
    never one query with tens of thousands of parameters."""
    pending = invitations_for_letters(batch_id=batch_id, now=now).only(*LETTER_FIELDS)
    if ids is None:
        last = 0
        while chunk := list(pending.filter(id__gt=last)[:CHUNK]):
            yield chunk
            last = chunk[-1].pk
        return
    for start in range(0, len(ids), CHUNK):
        if chunk := list(pending.filter(pk__in=ids[start : start + CHUNK])):
            yield chunk


def _count(*, batch_id: int | None, ids: list[int] | None, now: datetime) -> int:
    pending = invitations_for_letters(batch_id=batch_id, now=now)
    if ids is None:
        return pending.count()
    return sum(
        pending.filter(pk__in=ids[start : start + COUNT_CHUNK]).count()
        for start in range(0, len(ids), COUNT_CHUNK)
    )


def _too_many_for_a_print(*, count: int, limit: int) -> ApplicationError:
    return ApplicationError(
        "too_many_letters",
        _(
            "Too many letters for one print: %(count)s selected, the limit is %(limit)s. "
            "Select fewer invitations."
        )
        % {"count": count, "limit": limit},
        status=422,
        limit=limit,
        count=count,
    )


@transaction.atomic
def letter_print_start(
    *,
    actor: User,
    batch_id: int | None = None,
    ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> LetterPrint:
    """Queue a print of the letters of the pending invitations of batch ``batch_id``
    and/or among ``ids`` (drawn by the worker after commit, see
    :func:`letter_print_draw`). Returns the print, ``queued``, with ``total`` letters.

    Raises ``invalid`` (422) when neither a batch nor ids are given, ``not_found`` (404)
    for an unknown batch, ``no_letters`` (422) when nothing printable is selected, and
    ``too_many_letters`` (422, with ``limit`` and ``count``) beyond
    ``PORTICO_MAX_LETTERS`` (for a list of ids longer than the limit, ``count`` is the
    number of ids given). Records ``invitation.letters_requested`` in the audit log
    (``count``, ``batch``, ``ids_count`` and ``ids``, the ids themselves up to
    :data:`AUDITED_IDS`: the print, which the entry names, keeps them all)."""
    now = now or timezone.now()
    limit = settings.PORTICO_MAX_LETTERS
    ids = checked_selection(batch_id=batch_id, ids=ids)
    if ids is not None and len(ids) > limit:
        raise _too_many_for_a_print(count=len(ids), limit=limit)
    total = _count(batch_id=batch_id, ids=ids, now=now)
    if not total:
        raise no_letters_error()
    if total > limit:
        raise _too_many_for_a_print(count=total, limit=limit)
    letter_print = LetterPrint.objects.create(
        actor=actor, batch_id=batch_id, ids=ids, total=total, created_at=now, heartbeat_at=now
    )
    audit(
        actor=actor,
        verb="invitation.letters_requested",
        target=letter_print,
        count=total,
        batch=batch_id,
        ids=ids if ids is not None and len(ids) <= AUDITED_IDS else None,
        ids_count=len(ids) if ids is not None else None,
    )
    from portico.invitations.tasks import draw_letter_print

    transaction.on_commit(lambda: draw_letter_print.enqueue(letter_print.pk))
    return letter_print


class _Overtaken(Exception):
    """The print was queued again (its worker was taken for stopped): this run stops."""


def _claim(print_id: int) -> int | None:
    """Take a queued print for this run: its status becomes ``drawing`` and its
    ``attempts`` this run's number, which is returned. None when the print is not
    queued (done, failed, or drawn by another run)."""
    with transaction.atomic():
        letter_print = (
            LetterPrint.objects.select_for_update()
            .filter(pk=print_id, status=LetterPrint.Status.QUEUED)
            .first()
        )
        if letter_print is None:
            return None
        attempt = letter_print.attempts + 1
        LetterPrint.objects.filter(pk=print_id).update(
            status=LetterPrint.Status.DRAWING,
            attempts=attempt,
            drawn=0,
            heartbeat_at=timezone.now(),
        )
    return attempt


def _mine(print_id: int, attempt: int) -> QuerySet[LetterPrint]:
    """The print, if this run (``attempt``) is still the one drawing it."""
    return LetterPrint.objects.filter(
        pk=print_id, attempts=attempt, status=LetterPrint.Status.DRAWING
    )


def _file_name(print_id: int, attempt: int) -> str:
    return f"letters/{print_id}-{attempt}.pdf"


def letter_print_draw(*, print_id: int, now: datetime) -> LetterPrint:
    """Draw a queued print: one page per invitation of its selection still pending at
    ``now``, dated ``now``, in the order of their ids, at most ``PORTICO_MAX_LETTERS``.

    The PDF is written page by page to a temporary file (memory stays flat), stored in
    the default file storage as ``letters/<id>-<attempt>.pdf`` once complete, and the
    print becomes ``done`` with ``total`` and ``drawn`` set to the letters drawn. Every
    :data:`PROGRESS_EVERY` letters ``drawn`` and ``heartbeat_at`` move (on the real
    clock: a run lasts minutes while ``now`` stays fixed).

    Idempotent: a print that is not queued (done, failed, or being drawn) is returned
    as it is. A run overtaken by a newer one (see :func:`letter_prints_resume_stalled`)
    stops and deletes its file; the run that finishes the print, done or failed, deletes
    whatever earlier runs stored. When nothing is pending any more the print fails with
    the ``no_letters`` message; when drawing breaks it fails with the error's name and
    the error is raised again (the task is marked failed and the error logged)."""
    attempt = _claim(print_id)
    letter_print = LetterPrint.objects.get(pk=print_id)
    if attempt is None:
        return letter_print
    try:
        stored = _draw_and_store(letter_print, attempt=attempt, now=now)
    except _Overtaken:
        return LetterPrint.objects.get(pk=print_id)
    except Exception as error:
        if _mine(print_id, attempt).update(
            status=LetterPrint.Status.FAILED,
            failure=f"{error.__class__.__name__}: {error}"[:1000],
            finished_at=now,
        ):
            # Best effort: the error that stopped this run is the one to raise, even when
            # the storage is what broke.
            with contextlib.suppress(OSError):
                _delete_earlier_files(print_id, attempt)
        raise
    storage = LetterPrint._meta.get_field("file").storage
    if stored is None:
        if _mine(print_id, attempt).update(
            status=LetterPrint.Status.FAILED, failure=no_letters_error().message, finished_at=now
        ):
            _delete_earlier_files(print_id, attempt)
    elif not _mine(print_id, attempt).update(
        status=LetterPrint.Status.DONE,
        file=stored[0],
        total=stored[1],
        drawn=stored[1],
        finished_at=now,
        heartbeat_at=timezone.now(),
    ):
        storage.delete(stored[0])  # overtaken at the last moment: the newer run's file counts
    else:
        _delete_earlier_files(print_id, attempt)
    return LetterPrint.objects.get(pk=print_id)


def _delete_earlier_files(print_id: int, attempt: int) -> None:
    """Delete what earlier runs of the print may have left (they stopped after storing
    their PDF, or while storing it), once run ``attempt`` has finished the print, done
    or failed. The retention sweep only knows the print's own file: a PDF left here
    would keep working codes forever."""
    storage = LetterPrint._meta.get_field("file").storage
    for earlier in range(1, attempt):
        storage.delete(_file_name(print_id, earlier))


def _draw_and_store(
    letter_print: LetterPrint, *, attempt: int, now: datetime
) -> tuple[str, int] | None:
    """Draw the print's PDF and store it: its name in the storage and its number of
    letters, or None when no letter was drawn (nothing stored). Raises
    :class:`_Overtaken` when a newer run took the print over."""

    def record(count: int) -> None:
        if count % PROGRESS_EVERY == 0 and not _mine(letter_print.pk, attempt).update(
            drawn=count, heartbeat_at=timezone.now()
        ):
            raise _Overtaken

    limit = settings.PORTICO_MAX_LETTERS
    chunks = _chunks(batch_id=letter_print.batch_id, ids=letter_print.ids, now=now)
    invitations = (invitation for chunk in chunks for invitation in chunk)
    storage = LetterPrint._meta.get_field("file").storage
    with tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as out:
        count = draw_letters(
            (invitation for _n, invitation in zip(range(limit), invitations, strict=False)),
            out,
            now=now,
            base_url=settings.BASE_URL,
            on_page=record,
        )
        if not count:
            return None
        out.seek(0)
        name = _file_name(letter_print.pk, attempt)
        storage.delete(name)  # left by an earlier try of this very run, if any
        return storage.save(name, File(out, name=name)), count


def letter_prints_resume_stalled(*, now: datetime) -> int:
    """Queue again the prints whose worker stopped (crash, restart): queued or drawing
    without progress for :data:`STALLED_AFTER` before ``now``. Each goes back to
    ``queued`` (``drawn`` 0) and is drawn again from the start; the run that stopped,
    should it still be alive, notices at its next progress record and gives up. Safe
    with any number of workers: each print is queued again by one of them. Returns how
    many were queued."""
    from portico.invitations.tasks import draw_letter_print

    active = (LetterPrint.Status.QUEUED, LetterPrint.Status.DRAWING)
    cutoff = now - STALLED_AFTER
    stalled = LetterPrint.objects.filter(status__in=active, heartbeat_at__lt=cutoff)
    queued = 0
    for pk in stalled.values_list("pk", flat=True):
        with transaction.atomic():
            if stalled.filter(pk=pk).update(
                status=LetterPrint.Status.QUEUED, drawn=0, heartbeat_at=now
            ):
                transaction.on_commit(lambda pk=pk: draw_letter_print.enqueue(pk))
                queued += 1
    return queued


class _JSONArrayLength(Func):
    """The length of a JSON array column, counted by the database (NULL for NULL)."""

    function = "JSON_ARRAY_LENGTH"
    output_field = IntegerField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="JSONB_ARRAY_LENGTH", **extra_context)

    def as_mysql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="JSON_LENGTH", **extra_context)


def letter_prints_shown() -> QuerySet[LetterPrint]:
    """Prints as pages and the API show them, most recent first: with ``ids_count``, how
    many ids the selection names (None for a batch alone), but without the ids
    themselves. A print keeps up to ``PORTICO_MAX_LETTERS`` of them, about 4 MB once
    read: a list of prints, or a page polled every second, would read them all."""
    return LetterPrint.objects.defer("ids").annotate(ids_count=_JSONArrayLength("ids"))


def letter_print_available_until(letter_print: LetterPrint) -> datetime | None:
    """When the retention sweep deletes the print's PDF: ``PORTICO_LETTERS_RETENTION``
    after it was drawn (None while it is not drawn)."""
    if letter_print.finished_at is None or letter_print.status != LetterPrint.Status.DONE:
        return None
    return letter_print.finished_at + parse_duration(settings.PORTICO_LETTERS_RETENTION)


class LetterDownload(NamedTuple):
    """A print's PDF, open for reading, and the name to download it as."""

    file: IO[bytes]
    filename: str


def letter_print_download(*, actor: User, print_id: int) -> LetterDownload:
    """The PDF of a finished print, open for reading (the caller closes it, as a
    ``FileResponse`` does), named after the time it was drawn.

    Raises ``not_found`` (404) for an unknown print, ``letters_not_ready`` (409, with
    ``print_status``) while it is queued or drawing or when it failed, and ``letters_deleted``
    (410) once the retention sweep deleted its file. Records
    ``invitation.letters_downloaded`` (``count``, ``batch``) in the audit log for every
    download: the letters carry working tokens."""
    letter_print = LetterPrint.objects.filter(pk=print_id).first()
    if letter_print is None:
        raise NotFound(_("No such print."), id=print_id)
    if letter_print.status != LetterPrint.Status.DONE:
        raise ApplicationError(
            "letters_not_ready",
            _("These letters are not ready: %(status)s.")
            % {"status": letter_print.get_status_display()},
            status=409,
            print_status=letter_print.status,
        )
    deleted = ApplicationError(
        "letters_deleted",
        _("This PDF was deleted after its retention period. Print the letters again."),
        status=410,
    )
    if not letter_print.file:
        raise deleted
    try:
        file = letter_print.file.storage.open(letter_print.file.name, "rb")
    except FileNotFoundError:
        raise deleted from None
    try:
        audit(
            actor=actor,
            verb="invitation.letters_downloaded",
            target=letter_print,
            count=letter_print.drawn,
            batch=letter_print.batch_id,
        )
    except BaseException:
        file.close()  # unrecorded, so never handed out
        raise
    return LetterDownload(file=file, filename=letters_filename(letter_print.finished_at))

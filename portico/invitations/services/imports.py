"""Imports: an uploaded file becomes a preview, then, once confirmed, invitations.

1. :func:`invitation_import_start` keeps the upload and queues the check.
2. :func:`invitation_import_check` (worker) reads the file in a guarded child process,
   plans the batch without writing, and records the preview or every error.
3. :func:`invitation_import_confirm` (admin) queues the storing.
4. :func:`invitation_import_store` (worker) takes the checked plan once it has made
   sure that nothing the plan depended on has changed (otherwise it plans again from
   the file; all or nothing: a new problem stores nothing), then stores in chunks of
   ``CHUNK`` rows, one transaction each, recording how far it got in the same
   transaction, so the progress bar moves and a crashed worker resumes where it stopped
   without storing or sending anything twice.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portico.accounts.models import User
from portico.core.audit import audit
from portico.core.errors import ApplicationError, NotFound
from portico.invitations.models import (
    Invitation,
    InvitationBatch,
    InvitationImport,
    InvitationMessage,
)
from portico.invitations.services.create import StalePlan, apply_plan
from portico.invitations.services.import_plan import (
    checked_rows,
    preview_rows,
    replan_checked,
)
from portico.invitations.services.planning import BatchPlan, InviteOptions, invitation_plan_batch
from portico.invitations.sheets import read_invitation_sheet, unparseable

logger = logging.getLogger(__name__)

CHUNK = 10_000
STORE_ATTEMPTS = 3
STALLED_AFTER = timedelta(minutes=15)


def _options(invitation_import: InvitationImport) -> InviteOptions:
    options = InviteOptions(**invitation_import.options)
    if invitation_import.kind == InvitationImport.Kind.CODES:
        options.send_email = False  # codes are printed, never mailed
    return options


@transaction.atomic
def invitation_import_start(
    *,
    actor: User,
    upload: UploadedFile,
    options: InviteOptions,
    kind: str = InvitationImport.Kind.FILE,
) -> InvitationImport:
    """Keep the upload and queue its check (after commit). Raises ``file_too_large``
    (413) past ``PORTICO_UPLOAD_MAX_MB`` and ``unparseable_file`` for an empty upload."""
    limit = settings.PORTICO_UPLOAD_MAX_MB * 1024 * 1024
    if upload.size is not None and upload.size > limit:
        raise ApplicationError(
            "file_too_large",
            _("The file is larger than %(mb)s MB.") % {"mb": settings.PORTICO_UPLOAD_MAX_MB},
            status=413,
            limit_mb=settings.PORTICO_UPLOAD_MAX_MB,
        )
    if not upload.size:
        raise ApplicationError("unparseable_file", _("The file is empty."), status=422)
    invitation_import = InvitationImport(
        kind=kind,
        actor=actor,
        filename=Path(upload.name or "upload").name[:255],
        options=asdict(options),
    )
    invitation_import.file.save(
        f"{invitation_import.created_at:%Y%m%d%H%M%S}.upload", upload, save=False
    )
    invitation_import.save()
    audit(
        actor=actor,
        verb="invitation_import.uploaded",
        target=invitation_import,
        filename=invitation_import.filename,
        kind=kind,
    )
    from portico.invitations.tasks import check_invitation_import

    transaction.on_commit(lambda: check_invitation_import.enqueue(invitation_import.pk))
    return invitation_import


def _uploader_language(invitation_import: InvitationImport) -> str:
    """The language of the admin who uploaded the file (their profile's, which is also
    their pages'): the problems found are written in it, once, and kept."""
    actor = invitation_import.actor
    return ((actor.language if actor else "") or settings.LANGUAGE_CODE).lower()


def _plan_file(
    invitation_import: InvitationImport, *, now: datetime | None = None, progress: bool = False
) -> tuple[BatchPlan | None, list[dict], list[dict], int]:
    """Read the import's file and plan it, checking every row. Returns the plan, the
    errors and the warnings (their messages in the uploader's language: the worker has
    no request to take one from) and the row count."""
    with translation.override(_uploader_language(invitation_import)):
        return _plan_file_checked(invitation_import, now=now, progress=progress)


def _plan_file_checked(
    invitation_import: InvitationImport, *, now: datetime | None, progress: bool
) -> tuple[BatchPlan | None, list[dict], list[dict], int]:
    codes = invitation_import.kind == InvitationImport.Kind.CODES
    if not invitation_import.file or not invitation_import.file.storage.exists(
        invitation_import.file.name
    ):
        return None, [unparseable(_("the uploaded file is no longer kept"))], [], 0
    sheet = read_invitation_sheet(Path(invitation_import.file.path), codes=codes)
    report = None
    if progress:
        pending = InvitationImport.objects.filter(pk=invitation_import.pk)
        pending.update(rows_total=len(sheet.rows), heartbeat_at=timezone.now())

        def report(checked: int) -> None:
            pending.update(rows_checked=checked, heartbeat_at=timezone.now())

    if sheet.errors and not sheet.rows:
        return None, sheet.errors, sheet.warnings, 0
    plan = invitation_plan_batch(
        rows=sheet.rows,
        options=_options(invitation_import),
        where="row",
        allow_codes=codes,
        email_allowed=not codes,
        now=now,
        on_progress=report,
    )
    errors = sheet.errors + plan.errors
    errors.sort(key=lambda e: (e.get("row") or min(e.get("rows") or [0]), e["code"]))
    return plan, errors, sheet.warnings + plan.warnings, len(sheet.rows)


def _plan_to_store(
    invitation_import: InvitationImport, *, now: datetime
) -> tuple[BatchPlan | None, list[dict]]:
    """The plan to store: the checked one when nothing it depended on has changed
    (rows already stored do not count), else planned again from the file."""
    if invitation_import.plan:
        plan = replan_checked(
            invitation_import.plan,
            _options(invitation_import),
            now=now,
            start=invitation_import.stored_through + 1,
        )
        if plan is not None:
            return plan, []
    plan, errors, _warnings, _total = _plan_file(invitation_import, now=now)
    return plan, errors


def invitation_import_check(*, import_id: int, now: datetime | None = None) -> InvitationImport:
    """Check an uploaded file and record its preview (status ``ready``) or every problem
    (status ``invalid``). Writes nothing else. Idempotent."""
    invitation_import = InvitationImport.objects.get(pk=import_id)
    if invitation_import.status != InvitationImport.Status.CHECKING:
        return invitation_import
    plan, errors, warnings, total = _plan_file(invitation_import, now=now, progress=True)
    invitation_import.rows_total = total
    invitation_import.rows_checked = total
    invitation_import.warnings = warnings
    if errors or plan is None:
        invitation_import.status = InvitationImport.Status.INVALID
        invitation_import.errors = errors
    else:
        invitation_import.status = InvitationImport.Status.READY
        invitation_import.summary = plan.counts()
        invitation_import.plan = checked_rows(plan, _options(invitation_import))
    invitation_import.save()
    return invitation_import


def _light():
    """Imports without their large JSON columns (the checked rows, the errors)."""
    return InvitationImport.objects.defer("plan", "errors", "warnings")


@transaction.atomic
def invitation_import_confirm(*, actor: User, import_id: int) -> InvitationImport:
    """Store and send a checked import (queued for the worker). Only a ``ready`` import
    can be confirmed (``import_not_ready`` 409); confirming twice changes nothing."""
    invitation_import = _light().select_for_update().filter(pk=import_id).first()
    if invitation_import is None:
        raise NotFound(_("No such import."), id=import_id)
    if invitation_import.status in (InvitationImport.Status.STORING, InvitationImport.Status.DONE):
        return invitation_import
    if invitation_import.status != InvitationImport.Status.READY:
        raise ApplicationError(
            "import_not_ready",
            _("This import cannot be confirmed: %(s)s.")
            % {"s": invitation_import.get_status_display()},
            status=409,
        )
    invitation_import.status = InvitationImport.Status.STORING
    invitation_import.confirmed_at = timezone.now()
    summary = invitation_import.summary
    invitation_import.to_store = sum(
        summary.get(k, 0) for k in ("invited", "codes", "updated", "merged", "renewed")
    )
    invitation_import.heartbeat_at = invitation_import.confirmed_at
    invitation_import.save(update_fields=["status", "confirmed_at", "to_store", "heartbeat_at"])
    audit(
        actor=actor,
        verb="invitation_import.confirmed",
        target=invitation_import,
        summary=invitation_import.summary,
    )
    from portico.invitations.tasks import store_invitation_import

    transaction.on_commit(lambda: store_invitation_import.enqueue(invitation_import.pk))
    return invitation_import


@transaction.atomic
def invitation_import_stop_sending(
    *, actor: User, import_id: int, now: datetime
) -> tuple[InvitationImport, int]:
    """Cancel the import's emails still waiting in the outbox: the admin confirmed the
    wrong file, or the wrong message. Returns the import and how many were cancelled.
    The invitations stay, pending, without email (no reminder either), to be resent or
    deleted from the list; emails sent already are not called back. Only once the
    import is stored, or has failed part-way (``import_not_stored`` 409 before: storing
    would queue more behind the stop). Audited; stopping twice cancels nothing more."""
    invitation_import = _light().select_for_update().filter(pk=import_id).first()
    if invitation_import is None:
        raise NotFound(_("No such import."), id=import_id)
    # Stored: done, or failed part-way (final: nothing resumes it to queue more).
    stored = (InvitationImport.Status.DONE, InvitationImport.Status.FAILED)
    if invitation_import.status not in stored or not invitation_import.batch_id:
        raise ApplicationError(
            "import_not_stored",
            _("Sending can be stopped once the import is stored: %(s)s.")
            % {"s": invitation_import.get_status_display()},
            status=409,
        )
    waiting = InvitationMessage.objects.filter(
        batch_id=invitation_import.batch_id, sent_at__isnull=True, failed_at__isnull=True
    )
    held_back = list(waiting.values_list("invitation_id", flat=True))
    # The worker checks each email just before sending it: one cancelled here is not
    # sent, even if the worker had already claimed it; only one a worker is handing to
    # the mail server at this very moment may still go (the bar then counts it sent).
    cancelled = waiting.update(
        failed_at=now, claimed_until=None, last_error="cancelled: sending stopped by an admin"
    )
    # Nor reminded three days later: the reminder would be the first email they get, of
    # the very batch the admin held back. Resending one sends it (and reminds) again.
    Invitation.objects.filter(pk__one_of=held_back).update(send_email=False)
    audit(
        actor=actor,
        verb="invitation_import.sending_stopped",
        target=invitation_import,
        batch=invitation_import.batch_id,
        cancelled=cancelled,
    )
    return invitation_import, cancelled


def invitation_import_store(*, import_id: int, now: datetime) -> InvitationImport:
    """Store a confirmed import in chunks (see the module's docstring). Idempotent and
    resumable: rows up to ``stored_through`` are never stored twice."""
    invitation_import = InvitationImport.objects.defer("errors", "warnings").get(pk=import_id)
    if invitation_import.status != InvitationImport.Status.STORING:
        return invitation_import
    plan, errors = _plan_to_store(invitation_import, now=now)
    if errors or plan is None:
        # Something changed since the preview (a group was deleted...).
        return _stop(
            import_id, errors=errors, now=now, started=invitation_import.stored_through >= 0
        )
    actor = invitation_import.actor
    with transaction.atomic():
        invitation_import = _light().select_for_update().get(pk=import_id)
        if invitation_import.batch is None:
            invitation_import.batch = InvitationBatch.objects.create(
                source=(
                    InvitationBatch.Source.CODES
                    if invitation_import.kind == InvitationImport.Kind.CODES
                    else InvitationBatch.Source.FILE
                ),
                actor=actor,
                created_at=now,
                counts=invitation_import.summary,
            )
            invitation_import.save(update_fields=["batch"])
    batch = invitation_import.batch
    for attempt in range(1, STORE_ATTEMPTS + 1):
        try:
            _store_chunks(import_id=import_id, plan=plan, batch=batch, actor=actor, now=now)
            break
        except (IntegrityError, StalePlan):
            # Someone invited one of these addresses meanwhile (that row becomes a
            # merge), or changed the address of an invitation a row merges into: plan
            # the rest again and go on from the last stored chunk.
            if attempt == STORE_ATTEMPTS:
                raise
            plan, errors = _plan_to_store(_with_rows(import_id), now=now)
            if errors or plan is None:
                return _stop(import_id, errors=errors, now=now, started=True)
    with transaction.atomic():
        InvitationImport.objects.filter(pk=import_id).update(
            status=InvitationImport.Status.DONE, finished_at=now
        )
        invitation_import = _light().get(pk=import_id)
        audit(
            actor=actor,
            verb="invitation_import.stored",
            target=invitation_import,
            batch=batch.pk,
            stored=invitation_import.stored,
            emails=invitation_import.emails_queued,
        )
    return invitation_import


def _store_chunks(
    *, import_id: int, plan: BatchPlan, batch: InvitationBatch, actor: User, now: datetime
) -> None:
    """Store the rows after ``stored_through``, one transaction per chunk; each records
    how far it got in the same transaction."""
    rows = plan.rows
    start = _light().get(pk=import_id).stored_through + 1
    for chunk_start in range(start, len(rows), CHUNK):
        chunk = rows[chunk_start : chunk_start + CHUNK]
        with transaction.atomic():
            locked = _light().select_for_update().get(pk=import_id)
            if locked.stored_through >= chunk_start:  # another worker stored it
                continue
            part = BatchPlan(rows=chunk, projects=plan.projects, errors=[], warnings=[])
            applied = apply_plan(actor=actor, plan=part, batch=batch, now=now, audit_each=False)
            counts = part.counts()
            InvitationImport.objects.filter(pk=import_id).update(
                stored_through=chunk_start + len(chunk) - 1,
                stored=locked.stored + len(chunk) - counts["existing"],
                emails_queued=locked.emails_queued + applied.emails,
                heartbeat_at=timezone.now(),
            )


def _with_rows(import_id: int) -> InvitationImport:
    return InvitationImport.objects.defer("errors", "warnings").get(pk=import_id)


def _stop(import_id: int, *, errors: list[dict], now: datetime, started: bool):
    """Nothing more is stored: before the first chunk the import is invalid (nothing was
    stored at all); after it, failed, saying why."""
    InvitationImport.objects.filter(pk=import_id).update(
        status=InvitationImport.Status.FAILED if started else InvitationImport.Status.INVALID,
        errors=errors,
        finished_at=now,
        failure=_("The data changed while the import was being stored.") if started else "",
    )
    return _light().get(pk=import_id)


def invitation_import_fail(*, import_id: int, reason: str, now: datetime) -> None:
    """Record that checking or storing broke (an unexpected error), so that the page
    says so instead of showing progress that never moves."""
    InvitationImport.objects.filter(
        pk=import_id,
        status__in=[InvitationImport.Status.CHECKING, InvitationImport.Status.STORING],
    ).update(status=InvitationImport.Status.FAILED, failure=reason[:1000], finished_at=now)


def invitation_imports_resume_stalled(*, now: datetime) -> int:
    """Queue again the imports whose worker stopped (crash, restart) while checking or
    storing: nothing has moved for ``STALLED_AFTER``. Safe: checking writes nothing and
    storing resumes after the last stored chunk. Returns how many were queued."""
    from portico.invitations.tasks import check_invitation_import, store_invitation_import

    stalled = list(
        InvitationImport.objects.filter(
            status__in=[InvitationImport.Status.CHECKING, InvitationImport.Status.STORING],
            heartbeat_at__lt=now - STALLED_AFTER,
        ).values_list("pk", "status")
    )
    for pk, status in stalled:
        InvitationImport.objects.filter(pk=pk).update(heartbeat_at=now)
        task = (
            check_invitation_import
            if status == InvitationImport.Status.CHECKING
            else store_invitation_import
        )
        transaction.on_commit(lambda task=task, pk=pk: task.enqueue(pk))
    return len(stalled)


def invitation_import_preview(
    invitation_import: InvitationImport, *, offset: int = 0, limit: int = 100
) -> list[list[Any]]:
    """Rows ``offset`` to ``offset + limit`` of the preview:
    ``[row, action, email, first_name, last_name, language, groups, admin]``."""
    rows = invitation_import.plan[offset : offset + limit]
    return preview_rows(rows, _options(invitation_import)) if rows else []


def invitation_import_progress(invitation_import: InvitationImport) -> dict[str, Any]:
    """The three bars: rows checked, invitations stored, emails sent.

    ``emails_not_sent`` counts the import's emails that will not go out: refused by the
    mail server after every attempt, cancelled because a newer email replaced them
    (a resend, a fixed address), or stopped by an admin. ``mail_done`` is true once
    the import has stopped storing (done or failed) and none of its emails is still
    waiting: then nothing here will move again (an invitation deleted with its waiting
    email leaves sent and not sent short of queued). An import refused for its errors
    (``invalid``) sends nothing: its mail is done at once."""
    sent = not_sent = waiting = 0
    if invitation_import.batch_id:
        counts = InvitationMessage.objects.filter(
            batch_id=invitation_import.batch_id, kind=InvitationMessage.Kind.INVITATION
        ).aggregate(
            sent=Count("pk", filter=Q(sent_at__isnull=False)),
            not_sent=Count("pk", filter=Q(sent_at__isnull=True, failed_at__isnull=False)),
            waiting=Count("pk", filter=Q(sent_at__isnull=True, failed_at__isnull=True)),
        )
        sent, not_sent, waiting = counts["sent"], counts["not_sent"], counts["waiting"]
    finished = invitation_import.status in (
        InvitationImport.Status.DONE,
        InvitationImport.Status.FAILED,
        InvitationImport.Status.INVALID,
    )
    return {
        "status": invitation_import.status,
        "rows_total": invitation_import.rows_total,
        "rows_checked": invitation_import.rows_checked,
        "to_store": invitation_import.to_store,
        "stored": invitation_import.stored,
        "emails_queued": invitation_import.emails_queued,
        "emails_sent": sent,
        "emails_not_sent": not_sent,
        "mail_done": finished and waiting == 0,
    }

"""Resending and deleting many invitations at once: a selection (ids), or everything a
filter of the admin list matches, 100,000 invitations and more.

One set-based implementation serves every path (one invitation, a selection, a filter),
so they cannot drift apart: rows are read, locked and changed a chunk at a time
(:data:`CHUNK`), with a handful of queries per chunk and none per invitation.

Each chunk is its own transaction: its invitations, their audit entries and their
outbox rows commit together, and its emails go to the worker as soon as it commits.
A failure part-way keeps what the chunks before it did (each audited), like a selection
in which one invitation fails; doing it again finishes the rest. One transaction for
100,000 invitations would instead hold SQLite's single write lock for the whole
operation (the worker and every other admin would wait, or time out) and send nothing
until the very end.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import batched
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Case, Exists, F, Max, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext_lazy

from portico.accounts.models import User
from portico.core.audit import audit
from portico.core.errors import ApplicationError, NotFound
from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.selectors import InvitationFilter
from portico.invitations.services.common import (
    audit_invitations,
    cancel_waiting_messages,
    new_lifetime,
    queue_messages,
)

# Invitations per chunk (and per transaction): large enough that the per-query costs
# vanish, small enough that a chunk's ids and rows stay a few hundred kilobytes.
CHUNK = 5000


class _Row(NamedTuple):
    """What a chunk reads of each invitation."""

    pk: int
    email: str | None
    status: str
    effective_status: str  # expired when pending past its expiry, as the list shows it


_HAS_ADDRESS = Q(email__isnull=False) & ~Q(email="")
# Primary keys are 64-bit: an id outside that range names no invitation.
_MAX_ID = 2**63 - 1

# The outcome of a failure counted over many invitations (a filter's summary).
FAILURE_SUMMARIES = {
    "not_found": ngettext_lazy(
        "%(count)s invitation was not found.", "%(count)s invitations were not found.", "count"
    ),
    "invitation_already_accepted": ngettext_lazy(
        "%(count)s invitation was not sent again: it has already been accepted.",
        "%(count)s invitations were not sent again: they have already been accepted.",
        "count",
    ),
    "email_registered": ngettext_lazy(
        "%(count)s invitation was not sent again: its address has registered in the "
        "meantime (invite the account instead).",
        "%(count)s invitations were not sent again: their addresses have registered in the "
        "meantime (invite the accounts instead).",
        "count",
    ),
}


def already_accepted(invitation_id: int) -> ApplicationError:
    """``invitation_already_accepted`` (409): an accepted invitation is history."""
    return ApplicationError(
        "invitation_already_accepted",
        _("This invitation has already been accepted."),
        status=409,
        id=invitation_id,
    )


def _registered_in_the_meantime(invitation_id: int, email: str) -> ApplicationError:
    return ApplicationError(
        "email_registered",
        _(
            "%(email)s has registered in the meantime; invite the account again to give "
            "it these rights."
        )
        % {"email": email},
        status=409,
        id=invitation_id,
    )


def _error(code: str, row: _Row) -> ApplicationError:
    """The error one invitation of a chunk failed with, as the single operation raises it."""
    if code == "invitation_already_accepted":
        return already_accepted(row.pk)
    return _registered_in_the_meantime(row.pk, row.email or "")


@dataclass
class _Done:
    """What a chunk did: the invitations changed, the failed ones by code, and how many
    emails it queued."""

    succeeded: list[_Row] = field(default_factory=list)
    failed: dict[str, list[_Row]] = field(default_factory=lambda: defaultdict(list))
    emails: int = 0


# A chunk's work: given its invitations (locked, read as ``_Row``), change them.
Work = Callable[..., _Done]


def _resend(*, actor: User, rows: Sequence[_Row], now: datetime) -> _Done:
    """Send pending and expired invitations again: same token, lifetime restarted (new
    expiry, one new reminder later), emails still waiting in the outbox replaced by one
    new invitation email. Codes without an address are renewed, not sent. Accepted
    invitations, and those whose address has registered meanwhile, are left alone."""
    done = _Done()
    open_rows = []
    for row in rows:
        if row.status == Invitation.Status.ACCEPTED:
            done.failed["invitation_already_accepted"].append(row)
        else:
            open_rows.append(row)
    registered = set(
        Invitation.objects.filter(pk__one_of=[r.pk for r in open_rows if r.email])
        .filter(
            Exists(
                User.objects.annotate(address=Lower("email")).filter(
                    address=Lower(OuterRef("email"))
                )
            )
        )
        .values_list("pk", flat=True)
    )
    for row in open_rows:
        if row.pk in registered:
            done.failed["email_registered"].append(row)
        else:
            done.succeeded.append(row)
    if not done.succeeded:
        return done
    ids = [row.pk for row in done.succeeded]
    lifetime = new_lifetime(now)
    Invitation.objects.filter(pk__one_of=ids).update(
        **lifetime,
        # Created without email (send_invite_email FALSE)? Resending is an explicit
        # request for one.
        send_email=Case(When(_HAS_ADDRESS, then=Value(True)), default=F("send_email")),
    )
    cancel_waiting_messages(ids, now=now)
    done.emails = queue_messages(
        [SimpleNamespace(pk=r.pk, email=r.email, send_email=True) for r in done.succeeded],
        kind=InvitationMessage.Kind.INVITATION,
        now=now,
    )
    audit_invitations(
        actor=actor,
        verb="invitation.resent",
        invitations=done.succeeded,
        expires_at=lifetime["expires_at"].isoformat(),
    )
    return done


def _delete(*, actor: User, rows: Sequence[_Row], now: datetime) -> _Done:
    """Delete invitations, audited first with their status and address. A pending one
    takes its promised groups and roles and its waiting emails with it and frees its
    address; an accepted one keeps its account (the account never pointed back)."""
    if not rows:
        return _Done()
    audit_invitations(
        actor=actor,
        verb="invitation.deleted",
        invitations=rows,
        details_of=lambda row: {"status": row.effective_status, "email": row.email or ""},
    )
    ids = [row.pk for row in rows]
    # Each relation in one statement. These are every row that points at an invitation
    # (tests/invitations/test_manage_many.py checks that the list stays complete), so
    # the invitations themselves go without Django collecting them again in batches of
    # a hundred.
    InvitationMessage.objects.filter(invitation_id__one_of=ids).delete()
    Invitation.groups.through.objects.filter(invitation_id__one_of=ids).delete()
    Invitation.moderated_projects.through.objects.filter(invitation_id__one_of=ids).delete()
    Invitation.objects.filter(pk__one_of=ids)._raw_delete(Invitation.objects.db)
    return _Done(succeeded=list(rows))


def _rows(queryset: QuerySet[Invitation], *, now: datetime) -> list[_Row]:
    """The invitations of ``queryset`` (at most :data:`CHUNK`) in id order, locked until
    the chunk commits (PostgreSQL re-checks the query on rows changed meanwhile;
    SQLite's immediate transaction already holds its one write lock).

    SQLite's planner, without statistics, reads a status filter through the status
    indexes, whatever range of ids the chunk names: with 100,000 expired invitations,
    every chunk read all of them. ``NOT INDEXED`` makes it read the chunk's ids through
    the primary key alone (which still serves the range and ``id IN``)."""
    rows = (
        queryset.select_for_update()
        .annotate(
            effective=Case(
                When(status=Invitation.Status.PENDING, expires_at__lte=now, then=Value("expired")),
                default=F("status"),
            )
        )
        .order_by("pk")
        .values_list("pk", "email", "status", "effective")[:CHUNK]
    )
    sql, params = rows.query.sql_with_params()
    if connection.vendor == "sqlite":
        table = f'FROM "{Invitation._meta.db_table}"'
        sql = sql.replace(table, f"{table} NOT INDEXED", 1)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [_Row(*row) for row in cursor.fetchall()]


# By ids.


def by_ids(work: Work, *, actor: User, ids: Iterable[int]) -> dict[int, ApplicationError | None]:
    """Run ``work`` on the invitations ``ids`` names, a chunk per transaction. Returns
    each distinct id, in the order given, with its error (None when it succeeded); an
    unknown id fails with ``not_found`` and the others proceed."""
    wanted = list(dict.fromkeys(ids))
    outcomes: dict[int, ApplicationError | None] = {}
    for chunk in batched((i for i in wanted if 0 < i <= _MAX_ID), CHUNK):
        with transaction.atomic():
            now = timezone.now()
            rows = _rows(Invitation.objects.filter(pk__one_of=chunk), now=now)
            done = work(actor=actor, rows=rows, now=now)
        outcomes.update((row.pk, None) for row in done.succeeded)
        for code, failed in done.failed.items():
            outcomes.update((row.pk, _error(code, row)) for row in failed)
    return {
        i: outcomes[i] if i in outcomes else NotFound(_("No such invitation."), id=i)
        for i in wanted
    }


def _report(outcomes: dict[int, ApplicationError | None]) -> list[dict[str, Any]]:
    return [
        {"id": i, "ok": True}
        if error is None
        else {"id": i, "ok": False, "code": error.code, "message": str(error.message)}
        for i, error in outcomes.items()
    ]


def invitations_resend(*, actor: User, ids: Iterable[int]) -> list[dict[str, Any]]:
    """Resend each invitation ``ids`` names, exactly as resending it alone would (see
    :func:`portico.invitations.services.manage.invitation_resend`). Returns one outcome
    per distinct id, in the order given: ``{"id", "ok": True}`` or ``{"id", "ok": False,
    "code", "message"}`` with ``not_found``, ``invitation_already_accepted`` or
    ``email_registered``; a failure does not stop the others."""
    return _report(by_ids(_resend, actor=actor, ids=ids))


def invitations_delete(*, actor: User, ids: Iterable[int]) -> list[dict[str, Any]]:
    """Delete each invitation ``ids`` names, exactly as deleting it alone would. One
    outcome per distinct id, in the order given; unknown ids fail with ``not_found``."""
    return _report(by_ids(_delete, actor=actor, ids=ids))


# By filter.


@dataclass
class BulkSummary:
    """What an operation on a filter did: how many invitations it changed, how many
    failed (by error code), how many emails it queued (resend), and the highest id it
    considered."""

    succeeded: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    emails: int = 0
    up_to_id: int | None = None

    @property
    def failed_count(self) -> int:
        return sum(self.failed.values())

    def failures(self) -> list[dict[str, Any]]:
        """One entry per error code: ``code``, ``count`` and a ``message`` that says it."""
        return [
            {
                "code": code,
                "count": count,
                "message": str(FAILURE_SUMMARIES[code] % {"count": count}),
            }
            for code, count in sorted(self.failed.items())
        ]


def _by_filter(
    work: Work,
    *,
    actor: User,
    invitation_filter: InvitationFilter,
    up_to_id: int | None,
    verb: str,
    not_since: bool,
) -> BulkSummary:
    """Run ``work`` on every invitation ``invitation_filter`` matches, then audit the
    operation as a whole (``verb``).

    The table is walked in windows of :data:`CHUNK` consecutive ids, a transaction
    each: the matching invitations of a window are read, locked and changed together.
    Windows of ids, rather than "the next CHUNK matching", keep every chunk's work
    bounded whatever plan the database picks for the filter: without statistics,
    PostgreSQL reads a status filter through its index and sorts every remaining match
    for each chunk.

    The filter is evaluated as of one moment (``now``, when the operation starts) and
    re-checked on each window's rows under lock, so a row changed meanwhile is taken as
    it is then: accepted concurrently, it may no longer match. Only ids up to
    ``up_to_id`` (by default the highest matching at the start) are considered:
    invitations created during the operation are not touched. Each id is visited once,
    so none is done twice or skipped, whatever is inserted, changed or deleted around
    it. ``not_since`` leaves out invitations whose lifetime started after ``now`` (sent
    by someone else while the operation runs): they were just sent.
    """
    invitation_filter.check()
    now = timezone.now()
    matching = invitation_filter.matching(now=now)
    if up_to_id is None:
        up_to_id = matching.aggregate(highest=Max("pk"))["highest"]
    summary = BulkSummary(up_to_id=up_to_id)
    if not_since:
        matching = matching.filter(Q(sent_at__lte=now) | Q(sent_at__isnull=True))
    after = 0
    while up_to_id is not None and after < up_to_id:
        window = Invitation.objects.filter(pk__gt=after, pk__lte=up_to_id).order_by("pk")
        last = next(iter(window.values_list("pk", flat=True)[CHUNK - 1 : CHUNK]), up_to_id)
        with transaction.atomic():
            # The chunk's own time: what it sends starts its lifetime then.
            chunk_now = timezone.now()
            rows = _rows(matching.filter(pk__gt=after, pk__lte=last), now=chunk_now)
            done = work(actor=actor, rows=rows, now=chunk_now) if rows else _Done()
        after = last
        summary.succeeded += len(done.succeeded)
        summary.failed.update({code: len(failed) for code, failed in done.failed.items()})
        summary.emails += done.emails
    audit(
        actor=actor,
        verb=verb,
        target=None,
        **invitation_filter.as_details(),
        up_to_id=up_to_id,
        succeeded=summary.succeeded,
        failed=dict(summary.failed),
        emails=summary.emails,
    )
    return summary


def invitations_resend_matching(
    *, actor: User, invitation_filter: InvitationFilter, up_to_id: int | None = None
) -> BulkSummary:
    """Resend every invitation the list shows for ``invitation_filter``, each exactly as
    resending it alone would: pending and expired ones restart their lifetime (same
    token, new expiry, reminder reset) and get one invitation email through the outbox
    after their chunk commits; codes without an address are renewed without email;
    accepted ones (``invitation_already_accepted``) and those whose address has
    registered meanwhile (``email_registered``) are counted as failed and left alone.

    Only invitations up to ``up_to_id`` (default: the highest matching now) and sent
    before the operation started are resent, each once. Every invitation resent is
    audited (``invitation.resent``), and the operation once (``invitation.bulk_resent``
    with the filter and the counts). Raises ``unknown_status`` or ``empty_filter``
    (422) before changing anything (see :meth:`InvitationFilter.check`)."""
    return _by_filter(
        _resend,
        actor=actor,
        invitation_filter=invitation_filter,
        up_to_id=up_to_id,
        verb="invitation.bulk_resent",
        not_since=True,
    )


def invitations_delete_matching(
    *, actor: User, invitation_filter: InvitationFilter, up_to_id: int | None = None
) -> BulkSummary:
    """Delete every invitation the list shows for ``invitation_filter`` (up to
    ``up_to_id``, default the highest matching now), each exactly as deleting it alone
    would: a pending one withdraws its groups and roles and frees its address, an
    accepted one keeps its account. Every invitation deleted is audited
    (``invitation.deleted``), and the operation once (``invitation.bulk_deleted``).
    Raises ``unknown_status`` or ``empty_filter`` (422) before deleting anything."""
    return _by_filter(
        _delete,
        actor=actor,
        invitation_filter=invitation_filter,
        up_to_id=up_to_id,
        verb="invitation.bulk_deleted",
        not_since=False,
    )


def resend_one(*, actor: User, invitation_id: int) -> None:
    """Resend one invitation; raises its error (``not_found``...) when it fails."""
    _raise_failure(by_ids(_resend, actor=actor, ids=[invitation_id]))


def delete_one(*, actor: User, invitation_id: int) -> None:
    """Delete one invitation; raises ``not_found`` when there is none."""
    _raise_failure(by_ids(_delete, actor=actor, ids=[invitation_id]))


def _raise_failure(outcomes: dict[int, ApplicationError | None]) -> None:
    for error in outcomes.values():
        if error is not None:
            raise error

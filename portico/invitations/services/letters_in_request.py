"""Letters drawn in the request, for ``GET /api/v1/invitations/letters.pdf``: a small
selection at once, or a larger one part by part. Prints drawn by the worker, the usual
way, are in :mod:`portico.invitations.services.letters`, with the selection rules this
module shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from portico.accounts.models import User
from portico.core.audit import audit
from portico.core.errors import ApplicationError
from portico.invitations.letters import Letters, render_letters
from portico.invitations.models import Invitation
from portico.invitations.services.letters import (
    CHUNK,
    LETTER_FIELDS,
    checked_selection,
    invitations_for_letters,
    no_letters_error,
)


def _in_chunks(
    invitations: QuerySet[Invitation], printed: list[int], *, limit: int, after: int = 0
) -> Iterator[Invitation]:
    """Each invitation once, at most ``limit`` (invitations added since they were counted
    cannot take the PDF past it), from the first with an id above ``after``, read
    ``CHUNK`` at a time by id and a few fields only, so that memory stays small; records
    each id in ``printed``."""
    queryset = invitations.only(*LETTER_FIELDS)
    last = after
    while len(printed) < limit and (chunk := list(queryset.filter(id__gt=last)[:CHUNK])):
        for invitation in chunk[: limit - len(printed)]:
            printed.append(invitation.pk)
            yield invitation
        last = chunk[-1].pk


def invitation_letters_print(
    *,
    actor: User,
    batch_id: int | None = None,
    ids: Iterable[int] | None = None,
    part: int | None = None,
    now: datetime | None = None,
    base_url: str | None = None,
) -> Letters:
    """The letters (one PDF page each, see :func:`render_letters`), drawn now, of the
    pending invitations of batch ``batch_id`` and/or among ``ids``; accepted and expired
    ones are skipped. Links are on ``base_url``, by default ``BASE_URL``. ``part`` (from
    1) prints the ``part``-th run of ``PORTICO_MAX_LETTERS_IN_REQUEST`` letters of a
    larger selection. For more letters than a request should draw, see
    :func:`~portico.invitations.services.letters.letter_print_start`.

    Raises ``invalid`` (422) when neither a batch nor ids are given, ``not_found`` (404)
    for an unknown batch, ``no_letters`` (422) when nothing printable is selected, and
    ``too_many_letters`` (422, with ``limit``, ``count`` and ``parts``) beyond
    ``PORTICO_MAX_LETTERS_IN_REQUEST`` without a ``part``; for a list of ids longer
    than the limit, ``count`` is the number of ids given (nothing is read). A ``part``
    past the end selects nothing (``no_letters``).

    Records ``invitation.letters_printed`` in the audit log (``count``; ``batch``, or
    ``ids``: the ids printed) once the PDF is complete. No transaction is held while
    drawing. The caller closes the file.
    """
    now = now or timezone.now()
    limit = settings.PORTICO_MAX_LETTERS_IN_REQUEST
    ids = checked_selection(batch_id=batch_id, ids=ids)
    if ids is not None and len(ids) > limit and part is None:
        raise _too_many(count=len(ids), limit=limit)
    if part is not None and part < 1:
        raise ApplicationError(
            "invalid", _("Parts are counted from 1."), status=422, field="part", value=part
        )
    invitations = invitations_for_letters(batch_id=batch_id, ids=ids, now=now)
    count = invitations.count()
    skip = (part - 1) * limit if part is not None else 0
    after = 0
    if 0 < skip < count:
        # The last id before the part (ids only grow: the part starts right after it).
        # None when letters were used since they were counted: the part is past the end.
        after = next(iter(invitations.values_list("id", flat=True)[skip - 1 : skip]), None)
        if after is None:
            raise no_letters_error()
    count = max(0, min(limit, count - skip)) if part is not None else count
    if not count:
        raise no_letters_error()
    if count > limit:
        raise _too_many(count=count, limit=limit)
    printed: list[int] = []
    letters = render_letters(
        _in_chunks(invitations, printed, limit=limit, after=after),
        now=now,
        base_url=settings.BASE_URL if base_url is None else base_url,
    )
    if not letters.count:  # all used since they were counted: a PDF of no page is no PDF
        letters.file.close()
        raise no_letters_error()
    try:
        audit(
            actor=actor,
            verb="invitation.letters_printed",
            target=None,
            count=letters.count,
            batch=batch_id,
            part=part,
            ids=printed if ids is not None else None,
        )
    except BaseException:
        letters.file.close()  # unrecorded, so never handed out
        raise
    return letters


def _too_many(*, count: int, limit: int) -> ApplicationError:
    parts = -(-count // limit)
    return ApplicationError(
        "too_many_letters",
        _(
            "Too many letters to print at once: %(count)s selected, the limit is %(limit)s. "
            "Print them in %(parts)s parts."
        )
        % {"count": count, "limit": limit, "parts": parts},
        status=422,
        limit=limit,
        count=count,
        parts=parts,
    )

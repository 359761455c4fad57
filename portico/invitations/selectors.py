"""Reads of invitations: lookup by token, the admin list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Q, QuerySet, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from portico.core.errors import ApplicationError
from portico.invitations import tokens
from portico.invitations.models import Invitation

# The status filter's extra value: not accepted, and the mail server refused the last
# email (or gave up on it). Not a status of its own: such an invitation is still pending
# or expired.
UNDELIVERED = "undelivered"
# The values of the list's status filter ("" is every status).
STATUS_FILTERS = (
    Invitation.Status.PENDING.value,
    Invitation.Status.ACCEPTED.value,
    Invitation.Status.EXPIRED.value,
    UNDELIVERED,
)

SORTS = {
    "email": ("email", "id"),
    "-email": ("-email", "-id"),
    "name": ("last_name", "first_name", "id"),
    "-name": ("-last_name", "-first_name", "-id"),
    "date": ("created_at", "id"),
    "-date": ("-created_at", "-id"),
    "status": ("status", "expires_at", "id"),
    "-status": ("-status", "-expires_at", "-id"),
    "expires": ("expires_at", "id"),
    "-expires": ("-expires_at", "-id"),
}


def canonical_token(raw: str) -> str:
    """The canonical form of a typed token; ``token_mistyped`` (422) when its shape or
    check character is wrong, so that typos never reach the database."""
    canonical = tokens.normalize(raw)
    if not tokens.is_well_formed(canonical):
        raise ApplicationError(
            "token_mistyped",
            _("This code is not quite right: check it for a mistyped character."),
        )
    return canonical


def invitation_get_by_token(raw: str, *, for_update: bool = False) -> Invitation:
    """The invitation a token belongs to. Raises ``token_mistyped`` (422) or
    ``token_not_found`` (404). The state is checked by :func:`check_acceptable`."""
    canonical = canonical_token(raw)
    invitations = Invitation.objects.select_related("inviter")
    if for_update:
        # Lock the invitation only: PostgreSQL cannot lock the nullable side of the outer
        # join to the inviter ("FOR UPDATE cannot be applied to the nullable side").
        invitations = invitations.select_for_update(of=("self",))
    invitation = invitations.filter(token_hash=tokens.lookup_hash(canonical)).first()
    if invitation is None:
        raise ApplicationError("token_not_found", _("We do not know this invitation code."))
    return invitation


def check_acceptable(invitation: Invitation, *, now: datetime | None = None) -> None:
    """Raises ``invitation_already_accepted`` (409) or ``invitation_expired`` (410)."""
    status = invitation.effective_status(now or timezone.now())
    if status == Invitation.Status.ACCEPTED:
        raise ApplicationError(
            "invitation_already_accepted",
            _("This invitation has already been used. Sign in with the account it created."),
            status=409,
        )
    if status == Invitation.Status.EXPIRED:
        raise ApplicationError(
            "invitation_expired",
            _("This invitation has expired. Ask the platform's administrators to send it again."),
            status=410,
        )


def check_status_filter(status: str) -> None:
    """Raises ``unknown_status`` (422) unless ``status`` is empty or one of
    :data:`STATUS_FILTERS`."""
    if status and status not in STATUS_FILTERS:
        raise ApplicationError(
            "unknown_status",
            _("%(value)s is not a status of the list.") % {"value": status},
            status=422,
            field="status",
            value=status,
        )


def invitation_list_for_admin(
    *,
    search: str = "",
    status: str = "",
    sort: str = "-date",
    now: datetime | None = None,
    batch_id: int | None = None,
) -> QuerySet[Invitation]:
    """Every invitation, searched by name or email, filtered, sorted. ``status`` is an
    effective status (pending, accepted, expired), :data:`UNDELIVERED` (not accepted and
    its last email could not be delivered) or empty for all; any other value raises
    ``unknown_status`` (422): a mistyped filter must never widen to every invitation (an
    export would then hand out every working token). ``batch_id``: only the invitations
    that batch created (those it merged or renewed keep the batch that created them).
    Backed by indexes, so pages stay fast with 100,000 rows."""
    check_status_filter(status)
    now = now or timezone.now()
    invitations = Invitation.objects.select_related("inviter")
    if batch_id is not None:
        invitations = invitations.filter(batch_id=batch_id)
    if search:
        for word in search.split()[:5]:
            invitations = invitations.filter(
                Q(email__icontains=word)
                | Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
            )
    if status == Invitation.Status.PENDING:
        invitations = invitations.pending(now)
    elif status == Invitation.Status.EXPIRED:
        invitations = invitations.expired(now)
    elif status == Invitation.Status.ACCEPTED:
        invitations = invitations.accepted()
    elif status == UNDELIVERED:
        invitations = invitations.exclude(status=Invitation.Status.ACCEPTED).filter(
            delivery_failed_at__isnull=False
        )
    return invitations.order_by(*SORTS.get(sort, SORTS["-date"]))


@dataclass(frozen=True)
class InvitationFilter:
    """The admin list's filter as a target of bulk operations: ``search`` and
    ``status`` mean exactly what they mean in :func:`invitation_list_for_admin`.

    A filter without search words and without status matches every invitation;
    ``everything`` says that this is meant (see :meth:`check`)."""

    search: str = ""
    status: str = ""
    everything: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.search.split() and not self.status

    def check(self) -> None:
        """Raises ``unknown_status`` (422) for a status the list does not know, and
        ``empty_filter`` (422) for an empty filter without ``everything``: a bulk
        operation on every invitation is never the result of a forgotten field."""
        check_status_filter(self.status)
        if self.is_empty and not self.everything:
            raise ApplicationError(
                "empty_filter",
                _(
                    "This filter has no search and no status, so it matches every invitation. "
                    "Confirm that this is meant (all: true)."
                ),
                status=422,
                field="all",
            )

    def matching(self, *, now: datetime) -> QuerySet[Invitation]:
        """The invitations the list shows for this filter at ``now``, unordered."""
        return (
            invitation_list_for_admin(search=self.search, status=self.status, now=now)
            .select_related(None)
            .order_by()
        )

    def as_details(self) -> dict[str, object]:
        """The filter as the audit log records it."""
        return {"search": self.search, "status": self.status, "all": self.is_empty}


def invitation_filter_counts(invitation_filter: InvitationFilter, *, now: datetime) -> dict:
    """What a bulk operation on the filter would meet, in one query: ``count``, the
    highest id (``up_to_id``, None when nothing matches), and among them how many are
    ``accepted`` and how many are ``codes`` without an address."""
    return invitation_filter.matching(now=now).aggregate(
        count=Count("pk"),
        up_to_id=Max("pk"),
        accepted=Count("pk", filter=Q(status=Invitation.Status.ACCEPTED)),
        codes=Count("pk", filter=Q(email__isnull=True) | Q(email="")),
    )


def pending_invitation_for_address(email: str, *, now: datetime | None = None):
    return (
        Invitation.objects.pending(now or timezone.now())
        .filter(email__iexact=(email or "").strip())
        .first()
    )


def open_invitation_for_address(email: str) -> Invitation | None:
    """The open (pending or expired) invitation of an address, whatever its case: the
    one the ``invitations_one_open_per_address`` constraint allows. Compared with the
    database's own LOWER, as the constraint does, so that both agree on every address."""
    return (
        Invitation.objects.open_for_address()
        .annotate(email_lower=Lower("email"))
        .filter(email_lower=Lower(Value(email)))
        .first()
    )

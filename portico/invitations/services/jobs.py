"""Jobs of the invitations: idempotent, clock passed in, safe with any number of workers.

- :func:`invitation_messages_deliver_due` sends the outbox (invitations and reminders);
- :func:`invitations_send_due_reminders` queues one reminder per invitation lifetime;
- :func:`invitations_expire` marks invitations past their expiry.

Rows are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite runs
one writer at a time (immediate transactions), which gives the same guarantee.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import mailers
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portico.invitations.emails import build_message
from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.services.common import audit_invitations, queue_messages, reminder_delay

logger = logging.getLogger(__name__)

CHUNK = 200
LEASE = timedelta(minutes=10)
RENEW_EVERY = 50
_TRANSIENT = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    ConnectionError,
    TimeoutError,
    OSError,
)


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2**attempts), timedelta(hours=6))


def _claim(now: datetime) -> list[int]:
    """Claim up to CHUNK due messages. ``now`` says what is due; the lease runs on the
    real clock, because a sweep's ``now`` is fixed while its deliveries take time, and a
    lease that expired during them would let another worker send the same messages."""
    clock = timezone.now()
    with transaction.atomic():
        ids = list(
            InvitationMessage.objects.select_for_update(skip_locked=True)
            .filter(sent_at__isnull=True, failed_at__isnull=True, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=clock))
            .order_by("id")
            .values_list("id", flat=True)[:CHUNK]
        )
        InvitationMessage.objects.filter(id__in=ids).update(claimed_until=clock + LEASE)
    return ids


def _renew_lease(messages: list[InvitationMessage]) -> None:
    InvitationMessage.objects.filter(id__in=[m.pk for m in messages]).update(
        claimed_until=timezone.now() + LEASE
    )


def invitation_messages_deliver_due(*, now: datetime, max_chunks: int | None = None) -> int:
    """Send due outbox emails over one connection per chunk. Returns how many were sent.

    A message whose invitation is no longer pending is cancelled, not sent. A refused
    recipient fails the message for good and marks the invitation undeliverable; an
    unavailable server puts the message back with back-off, until
    ``PORTICO_MAIL_MAX_ATTEMPTS`` attempts.
    """
    sent_total, chunks = 0, 0
    while max_chunks is None or chunks < max_chunks:
        ids = _claim(now)
        if not ids:
            break
        chunks += 1
        sent, server_down = _deliver(ids, now=now)
        sent_total += sent
        if server_down:
            break
    return sent_total


def _deliver(ids: list[int], *, now: datetime) -> tuple[int, bool]:
    messages = list(
        InvitationMessage.objects.filter(id__in=ids)
        .select_related("invitation__inviter")
        .order_by("id")
    )
    connection = mailers.default
    sent: list[InvitationMessage] = []
    remaining = list(messages)
    try:
        connection.open()
        while remaining:
            if len(remaining) % RENEW_EVERY == 0:  # a slow server must not outlive the lease
                _renew_lease(remaining)
            message = remaining[0]
            invitation = message.invitation
            if (
                invitation.effective_status(now) != Invitation.Status.PENDING
                or not invitation.email
            ):
                InvitationMessage.objects.filter(pk=message.pk).update(
                    failed_at=now, claimed_until=None, last_error="cancelled: not pending"
                )
                remaining.pop(0)
                continue
            if not _still_wanted(message):
                # Cancelled since the claim (sent again, or a new address): the email
                # that replaces it is in the outbox already.
                remaining.pop(0)
                continue
            try:
                connection.send_messages([build_message(message, now=now)])
            except smtplib.SMTPRecipientsRefused as error:
                refusal = f"refused by the mail server: {error.recipients}"
                if all(400 <= code < 500 for code, _reply in error.recipients.values()):
                    # 4xx (greylisting, mailbox busy): try later, the address is fine.
                    _postpone([message], now=now, error=refusal)
                else:
                    _fail(message, now=now, error=refusal)
            except smtplib.SMTPResponseException as error:
                if 500 <= error.smtp_code < 600:
                    _fail(message, now=now, error=f"{error.smtp_code} {error.smtp_error!r}")
                else:
                    raise
            else:
                InvitationMessage.objects.filter(pk=message.pk).update(
                    sent_at=now, claimed_until=None, attempts=message.attempts + 1
                )
                sent.append(message)
            remaining.pop(0)
    except (*_TRANSIENT, smtplib.SMTPResponseException) as error:
        logger.warning(
            "mail server unavailable, %s message(s) postponed: %s",
            len(remaining),
            error.__class__.__name__,
        )
        _postpone(remaining, now=now, error=f"{error.__class__.__name__}: {error}")
        return _record_sent(sent), True
    finally:
        try:
            connection.close()
        except Exception:  # closing a broken connection must not hide what happened
            logger.debug("closing the mail connection failed", exc_info=True)
    return _record_sent(sent), False


def _still_wanted(message: InvitationMessage) -> bool:
    """Whether nothing has superseded the message since it was claimed: it is not
    cancelled, and its invitation still has the address (and so the token) the email is
    built with. One small query per email; sending it costs far more."""
    return InvitationMessage.objects.filter(
        pk=message.pk,
        sent_at__isnull=True,
        failed_at__isnull=True,
        invitation__email=message.invitation.email,
    ).exists()


def _record_sent(sent: list[InvitationMessage]) -> int:
    invitations = [m.invitation for m in sent if m.kind == InvitationMessage.Kind.INVITATION]
    reminders = [m.invitation for m in sent if m.kind == InvitationMessage.Kind.REMINDER]
    audit_invitations(actor=None, verb="invitation.sent", invitations=invitations)
    audit_invitations(actor=None, verb="invitation.reminded", invitations=reminders)
    return len(sent)


def _fail(message: InvitationMessage, *, now: datetime, error: str) -> None:
    failed = InvitationMessage.objects.filter(pk=message.pk, failed_at__isnull=True).update(
        failed_at=now, claimed_until=None, attempts=message.attempts + 1, last_error=error[:500]
    )
    if not failed:
        return  # cancelled meanwhile (superseded): its replacement decides delivery
    # Only while the invitation still has the refused address: a fixed one stays fixed.
    Invitation.objects.filter(pk=message.invitation_id, email=message.invitation.email).update(
        delivery_failed_at=now, delivery_error=error[:500]
    )
    audit_invitations(
        actor=None,
        verb="invitation.delivery_failed",
        invitations=[message.invitation],
        error=error[:200],
    )


def _postpone(messages: list[InvitationMessage], *, now: datetime, error: str) -> None:
    max_attempts = settings.PORTICO_MAIL_MAX_ATTEMPTS
    for message in messages:
        attempts = message.attempts + 1
        if attempts >= max_attempts:
            _fail(message, now=now, error=f"gave up after {attempts} attempts: {error}")
            continue
        # Not one cancelled meanwhile (superseded, or sending stopped): it keeps its reason.
        InvitationMessage.objects.filter(pk=message.pk, failed_at__isnull=True).update(
            attempts=attempts,
            claimed_until=None,
            next_attempt_at=now + _backoff(attempts),
            last_error=error[:500],
        )


def invitations_send_due_reminders(*, now: datetime) -> int:
    """Queue one reminder for each pending invitation whose email went out at least
    ``PORTICO_REMINDER_DELAY`` ago. ``reminder_sent_at`` records the claim, so repeated
    or concurrent sweeps queue each reminder once. Returns how many were queued."""
    if not settings.PORTICO_REMINDERS:
        return 0
    cutoff = now - reminder_delay()
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                Invitation.objects.pending(now)
                .filter(
                    email__isnull=False,
                    send_email=True,
                    reminder_sent_at__isnull=True,
                    sent_at__lte=cutoff,
                    delivery_failed_at__isnull=True,
                )
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)[:1000]
            )
            if not ids:
                return total
            Invitation.objects.filter(id__in=ids).update(reminder_sent_at=now)
            queue_messages(
                Invitation.objects.filter(id__in=ids), kind=InvitationMessage.Kind.REMINDER, now=now
            )
            total += len(ids)


def invitations_expire(*, now: datetime) -> int:
    """Mark pending invitations past their expiry as expired (audited). Acceptance checks
    the expiry itself, so this sweep only keeps the stored status tidy."""
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                Invitation.objects.filter(status=Invitation.Status.PENDING, expires_at__lte=now)
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)[:2000]
            )
            if not ids:
                return total
            Invitation.objects.filter(id__in=ids).update(status=Invitation.Status.EXPIRED)
            audit_invitations(
                actor=None,
                verb="invitation.expired",
                invitations=Invitation.objects.filter(id__in=ids),
            )
            total += len(ids)

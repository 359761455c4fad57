"""The invitation and reminder emails, in the invitee's language."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils import timezone

from portico.accounts.models import User
from portico.core.languages import language_or_default
from portico.core.mail import render_email
from portico.invitations.messages import message_as_text, sanitize_message
from portico.invitations.models import Invitation, InvitationMessage
from portico.invitations.services.common import invitation_ttl

INVITATION_TEMPLATE = "invitations/email/invitation"
REMINDER_TEMPLATE = "invitations/email/reminder"
# Stands in for the token in a preview's link. It can never open an invitation: it has
# the wrong length for a token and a U, which the token alphabet leaves out, so /invite
# answers ``token_mistyped`` before the database is asked.
PREVIEW_TOKEN = "PREVIEW-ONLY-NOT-USABLE"  # noqa: S105 (a placeholder, not a secret)


def invitation_link(invitation: Invitation, *, base_url: str | None = None) -> str:
    """The invitation's own link (``/invite/<token>/``), absolute: on ``base_url``, by
    default ``BASE_URL``. The email's button and the letter's QR code both open it."""
    return (base_url if base_url is not None else settings.BASE_URL) + reverse(
        "invitations:accept", kwargs={"token": invitation.token}
    )


def days_left(invitation: Invitation, now: datetime) -> int:
    """Whole days until expiry, rounded up (an invitation expiring in 26 hours has 2)."""
    return _days_until(invitation.expires_at, now)


def _days_until(expires_at: datetime, now: datetime) -> int:
    return max(0, math.ceil((expires_at - now).total_seconds() / 86400))


def _email_context(
    *,
    invitee_name: str,
    inviter: User | None,
    message_html: str,
    link: str,
    expires_at: datetime,
    now: datetime,
    is_admin: bool,
) -> dict[str, Any]:
    """The context of the invitation and reminder templates: one place for what is sent
    and for what a preview shows. ``message_html`` is already sanitised."""
    return {
        "invitee_name": invitee_name,
        "inviter_name": inviter.display_name if inviter else settings.PORTICO_PLATFORM_NAME,
        "message_html": message_html,
        "message_text": message_as_text(message_html),
        "link": link,
        "days_left": _days_until(expires_at, now),
        "expires_at": expires_at,
        "is_admin": is_admin,
    }


def build_message(message: InvitationMessage, *, now: datetime) -> EmailMultiAlternatives:
    invitation = message.invitation
    context = _email_context(
        invitee_name=invitation.first_name or "",
        inviter=invitation.inviter,
        message_html=invitation.message,
        link=invitation_link(invitation),
        expires_at=invitation.expires_at,
        now=now,
        is_admin=invitation.is_admin,
    )
    template = (
        REMINDER_TEMPLATE
        if message.kind == InvitationMessage.Kind.REMINDER
        else INVITATION_TEMPLATE
    )
    email = render_email(
        to=[invitation.email], template=template, context=context, language=invitation.language
    )
    # Lets a bounce or a complaint be traced back to the message that caused it. Sent
    # through one of anymail's backends, the metadata comes back in the provider's
    # tracking webhook (see receivers.message_ref); other backends ignore it.
    reference = f"{message.kind}-{message.pk}"
    email.extra_headers["X-Portico-Message"] = reference
    email.metadata = {"portico_message": reference}  # type: ignore[attr-defined]
    return email


def preview_email(
    *,
    inviter: User,
    language: str | None,
    message: str = "",
    first_name: str = "",
    last_name: str = "",
    now: datetime | None = None,
) -> EmailMultiAlternatives:
    """The invitation email as an invitee would receive it, without an invitation.

    Rendered by the same templates and context as :func:`build_message`, in ``language``
    (a platform language in any case; empty means the platform's first), with
    ``message`` sanitised as a batch sanitises it, ``inviter`` as the inviter, the
    invitation's usual lifetime from ``now``, and a link carrying :data:`PREVIEW_TOKEN`,
    which opens nothing. ``last_name`` is accepted for symmetry with an invitation's
    fields; the email greets by first name only. The message has no recipient.

    Writes nothing, sends nothing, creates no token. Raises ``unknown_locale`` (422)
    when ``language`` is not a platform language.
    """
    resolved = language_or_default(language)
    now = now or timezone.now()
    context = _email_context(
        invitee_name=first_name.strip(),
        inviter=inviter,
        message_html=sanitize_message(message),
        link=settings.BASE_URL + reverse("invitations:accept", kwargs={"token": PREVIEW_TOKEN}),
        expires_at=now + invitation_ttl(),
        now=now,
        is_admin=False,
    )
    return render_email(to=[], template=INVITATION_TEMPLATE, context=context, language=resolved)

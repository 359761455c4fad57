"""The invitation and reminder emails, in the invitee's language."""

from __future__ import annotations

import math
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from portico.core.mail import render_email
from portico.invitations.messages import message_as_text
from portico.invitations.models import Invitation, InvitationMessage


def invitation_link(invitation: Invitation, *, base_url: str | None = None) -> str:
    """The invitation's own link (``/invite/<token>/``), absolute: on ``base_url``, by
    default ``BASE_URL``. The email's button and the letter's QR code both open it."""
    return (base_url if base_url is not None else settings.BASE_URL) + reverse(
        "invitations:accept", kwargs={"token": invitation.token}
    )


def days_left(invitation: Invitation, now: datetime) -> int:
    """Whole days until expiry, rounded up (an invitation expiring in 26 hours has 2)."""
    return max(0, math.ceil((invitation.expires_at - now).total_seconds() / 86400))


def build_message(message: InvitationMessage, *, now: datetime) -> EmailMultiAlternatives:
    invitation = message.invitation
    inviter = invitation.inviter
    context = {
        "invitee_name": invitation.first_name or "",
        "inviter_name": inviter.display_name if inviter else settings.PORTICO_PLATFORM_NAME,
        "message_html": invitation.message,
        "message_text": message_as_text(invitation.message),
        "link": invitation_link(invitation),
        "days_left": days_left(invitation, now),
        "expires_at": invitation.expires_at,
        "is_admin": invitation.is_admin,
    }
    template = (
        "invitations/email/reminder"
        if message.kind == InvitationMessage.Kind.REMINDER
        else "invitations/email/invitation"
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

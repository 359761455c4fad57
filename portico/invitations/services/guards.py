"""The sign-up guard: an address with a pending invitation cannot be registered through
the normal sign-up form. This is what stops someone from signing up with another
person's address to take the rights meant for them."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from portico.core.errors import ApplicationError
from portico.invitations.selectors import pending_invitation_for_address


def refuse_sign_up_of_invited_address(email: str) -> None:
    if pending_invitation_for_address(email) is not None:
        raise ApplicationError(
            "invitation_pending",
            _(
                "An invitation is waiting for this address. Use the link in the invitation "
                "email to create your account, or have it sent again."
            ),
            status=409,
            field="email",
            send_again_url=reverse("invitations:resend"),
        )

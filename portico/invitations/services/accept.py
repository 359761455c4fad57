"""Accepting an invitation: the account is created with everything the invitation
promised, in one transaction."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portico.accounts.models import User, normalize_email
from portico.core.audit import audit
from portico.core.errors import ApplicationError
from portico.groups.services import group_add_members
from portico.invitations.models import Invitation
from portico.invitations.selectors import (
    check_acceptable,
    invitation_get_by_token,
    pending_invitation_for_address,
)
from portico.invitations.services.planning import is_valid_email
from portico.projects.services import project_add_moderator


@transaction.atomic
def invitation_accept(
    *,
    token: str,
    first_name: str,
    last_name: str,
    password: str,
    email: str | None = None,
    now: datetime | None = None,
) -> User:
    """Turn the invitation behind ``token`` into a signed-up user.

    The account gets the invitation's address (or ``email`` for a code without one),
    language and admin rights, its email counts as verified, it joins the invitation's
    manual groups and moderates its projects; the invitation is marked accepted.
    Two acceptances of one token at the same moment give one account: the invitation
    row is locked and its status changes only from pending.

    Raises ``token_mistyped`` 422, ``token_not_found`` 404,
    ``invitation_already_accepted`` 409, ``invitation_expired`` 410, ``invalid_email``
    422, ``email_taken`` 409, ``invitation_pending`` 409 (a code used with an address
    that has its own pending invitation) and ``invalid_password`` 422.
    """
    now = now or timezone.now()
    invitation = invitation_get_by_token(token, for_update=True)
    check_acceptable(invitation, now=now)

    address = invitation.email or normalize_email(email or "")
    if not invitation.email:
        if not is_valid_email(address):
            raise ApplicationError(
                "invalid_email",
                _("Enter a valid email address."),
                status=422,
                field="email",
                value=email or "",
            )
        other = pending_invitation_for_address(address, now=now)
        if other is not None and other.pk != invitation.pk:
            raise ApplicationError(
                "invitation_pending",
                _(
                    "An invitation is waiting for this address. Use the link in that email, "
                    "or have it sent again."
                ),
                status=409,
                field="email",
            )
    if User.objects.filter(email__iexact=address).exists():
        raise ApplicationError(
            "email_taken",
            _("An account with this email address already exists. Sign in instead."),
            status=409,
            field="email",
        )
    first_name, last_name = first_name.strip(), last_name.strip()
    probe = User(email=address, first_name=first_name, last_name=last_name)
    try:
        password_validation.validate_password(password, probe)
    except ValidationError as error:
        raise ApplicationError(
            "invalid_password", " ".join(error.messages), status=422, field="password"
        ) from error

    try:
        with transaction.atomic():
            user = User.objects.create_user(
                address,
                password,
                first_name=first_name,
                last_name=last_name,
                language=invitation.language,
                is_admin=invitation.is_admin,
                email_verified_at=now,
            )
    except IntegrityError as error:  # signed up by other means a moment ago
        raise ApplicationError(
            "email_taken",
            _("An account with this email address already exists. Sign in instead."),
            status=409,
            field="email",
        ) from error

    changed = Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.PENDING).update(
        status=Invitation.Status.ACCEPTED, accepted_at=now, accepted_user=user, email=address
    )
    if not changed:
        # Another acceptance won between our checks and here: undo this account.
        raise ApplicationError(
            "invitation_already_accepted", _("This invitation has already been used."), status=409
        )
    for group in invitation.groups.all():
        if not group.is_smart:  # smart groups follow their rules, nobody is added by hand
            group_add_members(actor=user, group=group, users=[user])
    for project in invitation.moderated_projects.all():
        project_add_moderator(actor=user, project=project, user=user)
    audit(
        actor=user,
        verb="invitation.accepted",
        target=invitation,
        user=user.email,
        admin=invitation.is_admin,
        groups=[g.name for g in invitation.groups.all()],
    )
    return user

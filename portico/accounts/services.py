"""Services of the accounts app: the only code that writes users and API tokens.

Each service runs in one transaction; mail is queued after commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portico.accounts.models import ApiToken, User, hash_api_token, normalize_email
from portico.accounts.tokens import make_verification_token, read_verification_token
from portico.core.audit import audit, audit_many
from portico.core.errors import ApplicationError, NotFound
from portico.core.languages import language_or_default
from portico.core.mail import send_email_after_commit

# Other apps (invitations) register checks that may refuse a sign-up, so that accounts
# never imports them. A guard raises ApplicationError to refuse.
SIGN_UP_GUARDS: list[Callable[[str], None]] = []


def email_is_taken(email: str) -> bool:
    return User.objects.filter(email__iexact=normalize_email(email)).exists()


@transaction.atomic
def user_sign_up(
    *,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    language: str | None = None,
) -> User:
    """Register a person who signs up by themselves. The account cannot sign in until
    its email is verified through the link that is mailed after commit.

    Raises ``email_taken`` (409) when the address is registered, ``unknown_locale``, or
    whatever a registered sign-up guard raises.
    """
    email = normalize_email(email)
    for guard in SIGN_UP_GUARDS:
        guard(email)
    if email_is_taken(email):
        raise ApplicationError(
            "email_taken",
            _("An account with this email address already exists."),
            field="email",
        )
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email,
                password,
                first_name=first_name.strip(),
                last_name=last_name.strip(),
                language=language_or_default(language),
            )
    except IntegrityError as exc:  # a concurrent sign-up with the same address won
        raise ApplicationError(
            "email_taken",
            _("An account with this email address already exists."),
            field="email",
        ) from exc
    user_send_verification(user=user)
    return user


def user_send_verification(*, user: User) -> None:
    """Queue the verification email (after commit). Does nothing for verified users."""
    if user.email_verified:
        return
    link = settings.BASE_URL + reverse(
        "accounts:verify-email", kwargs={"token": make_verification_token(user)}
    )
    send_email_after_commit(
        to=[user.email],
        template="accounts/email/verify",
        language=user.language,
        context={
            "name": user.first_name or user.email,
            "link": link,
            "days": settings.PORTICO_EMAIL_VERIFICATION_TTL_DAYS,
        },
    )


@transaction.atomic
def user_verify_email(*, token: str) -> User:
    """Mark the address in ``token`` as verified. Idempotent for an already verified
    account. Raises ``verification_link_invalid`` (400) for a bad, expired or stale link."""
    data = read_verification_token(token)
    user = None
    if data is not None:
        user = User.objects.select_for_update().filter(pk=data[0]).first()
    if user is None or data is None or user.email.lower() != data[1]:
        raise ApplicationError(
            "verification_link_invalid",
            _("This verification link is invalid or has expired. Sign in to get a new one."),
        )
    if not user.email_verified:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
        audit(actor=user, verb="user.email_verified", target=user)
    return user


@transaction.atomic
def user_update_profile(
    *, user: User, first_name: str, last_name: str, language: str | None
) -> User:
    user.first_name = first_name.strip()
    user.last_name = last_name.strip()
    user.language = language_or_default(language)
    user.save(update_fields=["first_name", "last_name", "language"])
    return user


@transaction.atomic
def user_set_admin(*, actor: User, user: User, is_admin: bool) -> User:
    """Give or take platform admin rights (audited). An admin cannot demote themselves,
    so that a platform never loses its last admin by accident."""
    if user.pk == actor.pk and not is_admin:
        raise ApplicationError("cannot_demote_self", _("You cannot remove your own admin rights."))
    if user.is_admin != is_admin:
        user.is_admin = is_admin
        user.save(update_fields=["is_admin"])
        audit(
            actor=actor,
            verb="user.admin_granted" if is_admin else "user.admin_revoked",
            target=user,
        )
    return user


@transaction.atomic
def users_grant_admin(*, actor: User, users: list[User]) -> list[User]:
    """Give platform admin rights to every one of ``users`` who lacks them, in a few
    queries whatever their number (an import may name thousands); one audit entry each,
    as :func:`user_set_admin` writes. Returns the users who gained the rights."""
    ids = list({user.pk for user in users})
    granted = list(User.objects.select_for_update().filter(pk__one_of=ids, is_admin=False))
    User.objects.filter(pk__one_of=[user.pk for user in granted]).update(is_admin=True)
    audit_many(
        actor=actor,
        verb="user.admin_granted",
        target_type=User._meta.label_lower,
        entries=((user.pk, str(user), {}) for user in granted),
    )
    for user in users:  # the callers' objects say what the database now says
        user.is_admin = True
    return granted


@transaction.atomic
def user_set_active(*, actor: User, user: User, is_active: bool) -> User:
    """Block or unblock an account (audited). Admins cannot block themselves."""
    if user.pk == actor.pk and not is_active:
        raise ApplicationError("cannot_block_self", _("You cannot block your own account."))
    if user.is_active != is_active:
        user.is_active = is_active
        user.save(update_fields=["is_active"])
        audit(actor=actor, verb="user.unblocked" if is_active else "user.blocked", target=user)
    return user


@transaction.atomic
def users_delete_unverified(*, actor: User | None, users: list[User], reason: str) -> int:
    """Delete accounts whose address was never verified (they could never sign in), for
    example because the address is being invited and the invitation proves it. Verified
    accounts are never touched. Audited. Returns how many were deleted."""
    doomed = [u for u in users if not u.email_verified]
    audit_many(
        actor=actor,
        verb="user.unverified_deleted",
        target_type=User._meta.label_lower,
        entries=((user.pk, str(user), {}) for user in doomed),
        reason=reason,
    )
    User.objects.filter(pk__in=[u.pk for u in doomed], email_verified_at__isnull=True).delete()
    return len(doomed)


TOKEN_PREFIX = "ptc_"  # noqa: S105 (a public prefix, not a secret)


@transaction.atomic
def api_token_create(*, actor: User, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a personal API token for ``user``. Returns the token and its secret, which
    is shown once and never stored (only its SHA-256 is)."""
    name = name.strip()
    if not name:
        raise ApplicationError("invalid", _("Give the token a name."), field="name")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=raw[:10],
        token_hash=hash_api_token(raw),
        created_by=actor,
    )
    audit(actor=actor, verb="api_token.created", target=token, user=user.email)
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: User, token_id: int) -> ApiToken:
    token = ApiToken.objects.select_for_update().filter(pk=token_id).first()
    if token is None:
        raise NotFound(_("No such API token."))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit(actor=actor, verb="api_token.revoked", target=token, user=token.user.email)
    return token


def api_token_authenticate(raw: str) -> User | None:
    """The active user behind an active token, or None. Records the last use."""
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=hash_api_token(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def user_summary(user: User) -> dict[str, Any]:
    return {"id": user.pk, "email": user.email, "name": user.display_name}

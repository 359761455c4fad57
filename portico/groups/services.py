"""Services of the groups app: create, change and delete groups; manual memberships.

Every change is audited. Smart groups never get members by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from portico.accounts.models import User
from portico.core.audit import audit, audit_many
from portico.core.errors import ApplicationError
from portico.groups.models import Group, Membership
from portico.groups.rules import clean_rules


def _check_name(name: str, *, exclude_pk: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ApplicationError("invalid", _("A group needs a name."), field="name")
    if len(name) > 150:
        raise ApplicationError(
            "invalid", _("A group name has at most 150 characters."), field="name"
        )
    clash = Group.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ApplicationError(
            "name_taken", _("A group with this name already exists."), field="name", value=name
        )
    return name


@transaction.atomic
def group_create(
    *,
    actor: User,
    name: str,
    kind: str = Group.Kind.MANUAL,
    description: str = "",
    rules: list[dict[str, Any]] | None = None,
) -> Group:
    """Create a group. Smart groups need at least one valid rule (``invalid_rule``);
    names are unique whatever the case (``name_taken``)."""
    if kind not in Group.Kind.values:
        raise ApplicationError("invalid", _("Unknown group kind."), field="kind", value=kind)
    name = _check_name(name)
    cleaned = clean_rules(rules or []) if kind == Group.Kind.SMART else []
    if kind == Group.Kind.SMART and not cleaned:
        raise ApplicationError(
            "invalid_rule", _("A smart group needs at least one rule."), field="rules"
        )
    try:
        with transaction.atomic():
            group = Group.objects.create(
                name=name, kind=kind, description=description.strip(), rules=cleaned
            )
    except IntegrityError as exc:
        raise ApplicationError(
            "name_taken", _("A group with this name already exists."), field="name", value=name
        ) from exc
    audit(actor=actor, verb="group.created", target=group, kind=kind, rules=cleaned)
    return group


@transaction.atomic
def group_update(
    *,
    actor: User,
    group: Group,
    name: str | None = None,
    description: str | None = None,
    rules: list[dict[str, Any]] | None = None,
) -> Group:
    """Rename a group, change its description or (smart groups) its rules."""
    changes: dict[str, Any] = {}
    if name is not None and name.strip() != group.name:
        group.name = _check_name(name, exclude_pk=group.pk)
        changes["name"] = group.name
    if description is not None and description.strip() != group.description:
        group.description = description.strip()
        changes["description"] = group.description
    if rules is not None and group.is_smart:
        cleaned = clean_rules(rules)
        if not cleaned:
            raise ApplicationError(
                "invalid_rule", _("A smart group needs at least one rule."), field="rules"
            )
        if cleaned != group.rules:
            group.rules = cleaned
            changes["rules"] = cleaned
    if changes:
        group.save()
        audit(actor=actor, verb="group.updated", target=group, **changes)
    return group


@transaction.atomic
def group_delete(*, actor: User, group: Group) -> None:
    """Delete a group; its memberships go with it, the users stay."""
    audit(actor=actor, verb="group.deleted", target=group, name=group.name)
    group.delete()


def _require_manual(group: Group) -> None:
    if group.is_smart:
        raise ApplicationError(
            "smart_group_membership",
            _("Members of a smart group follow its rules; they cannot be added or removed."),
            group=group.name,
        )


@transaction.atomic
def group_add_members(*, actor: User, group: Group, users: Iterable[User]) -> int:
    """Add users to a manual group; users already in it are left alone. Returns how many
    were added."""
    _require_manual(group)
    # A user listed twice is added (and audited) once.
    users = list({u.pk: u for u in users}.values())
    existing = set(
        Membership.objects.filter(group=group, user_id__one_of=[u.pk for u in users]).values_list(
            "user_id", flat=True
        )
    )
    new = [u for u in users if u.pk not in existing]
    Membership.objects.bulk_create(
        [Membership(group=group, user=u) for u in new], ignore_conflicts=True
    )
    audit_many(
        actor=actor,
        verb="group.member_added",
        target_type=Group._meta.label_lower,
        entries=((group.pk, str(group), {"user": user.email}) for user in new),
    )
    return len(new)


@transaction.atomic
def group_remove_members(*, actor: User, group: Group, users: Iterable[User]) -> int:
    """Remove users from a manual group. Returns how many were removed."""
    _require_manual(group)
    users = list({u.pk: u for u in users}.values())
    removed_ids = set(
        Membership.objects.filter(group=group, user__in=users).values_list("user_id", flat=True)
    )
    Membership.objects.filter(group=group, user_id__in=removed_ids).delete()
    audit_many(
        actor=actor,
        verb="group.member_removed",
        target_type=Group._meta.label_lower,
        entries=(
            (group.pk, str(group), {"user": user.email}) for user in users if user.pk in removed_ids
        ),
    )
    return len(removed_ids)

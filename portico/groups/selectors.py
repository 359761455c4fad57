"""Reads of groups and memberships."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Lower

from portico.accounts.models import User
from portico.groups.models import Group
from portico.groups.rules import rules_q, user_matches


def group_list(*, search: str = "") -> QuerySet[Group]:
    # Meta.ordering does not apply to a GROUP BY query (the annotation): order here.
    groups = Group.objects.annotate(manual_count=Count("memberships")).order_by(Lower("name"))
    if search:
        groups = groups.filter(name__icontains=search.strip())
    return groups


def group_members(group: Group) -> QuerySet[User]:
    """Members of a manual group, or the users matching a smart group's rules."""
    if group.is_smart:
        return User.objects.filter(rules_q(group.rules))
    return User.objects.filter(memberships__group=group)


def group_member_count(group: Group) -> int:
    return group_members(group).count()


def group_ids_for_user(user: User) -> set[int]:
    """Every group ``user`` belongs to: manual memberships and matching smart groups."""
    if not user.is_authenticated:
        return set()
    ids = set(
        Group.objects.filter(kind=Group.Kind.MANUAL, memberships__user=user).values_list(
            "id", flat=True
        )
    )
    smart = list(Group.objects.filter(kind=Group.Kind.SMART).only("id", "rules"))
    if smart:
        is_moderator = user.moderated_projects.exists()
        ids.update(g.id for g in smart if user_matches(user, g.rules, is_moderator=is_moderator))
    return ids


def groups_by_names(names: list[str]) -> tuple[dict[str, Group], list[str]]:
    """Look up groups by name, whatever the case. Returns ``({lower name: group},
    [names not found])`` in one query."""
    wanted = {n.strip().lower(): n.strip() for n in names if n and n.strip()}
    query = Q(pk__in=[])
    for lower in wanted:
        query |= Q(name__iexact=lower)
    found = {g.name.lower(): g for g in Group.objects.filter(query)} if wanted else {}
    missing = [original for lower, original in wanted.items() if lower not in found]
    return found, missing

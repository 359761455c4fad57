"""Reads of groups and memberships."""

from __future__ import annotations

from collections.abc import Iterable

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


def _comma_key(parts: Iterable[str]) -> str:
    return ",".join(part.strip().lower() for part in parts)


def group_names_rejoined(
    name_lists: Iterable[tuple[str, ...]],
) -> dict[tuple[str, ...], list[str]]:
    """Group names that contain a comma, put back together where a cell's list was
    split at every comma (a spreadsheet's ``groups`` cell, as the export writes it):
    ``("Residents", "North", "Youth")`` becomes ``["Residents, North", "Youth"]`` when a
    group is called "Residents, North". Returns only the lists that changed. One query,
    for the names with a comma; none of it when no group has one."""
    name_lists = [names for names in name_lists if len(names) > 1]
    comma_names = {
        _comma_key(name.split(",")): name
        for name in (
            Group.objects.filter(name__contains=",").values_list("name", flat=True)
            if name_lists
            else ()
        )
    }
    if not comma_names:
        return {}
    longest = max(key.count(",") + 1 for key in comma_names)
    changed = {}
    for names in name_lists:
        rejoined, start = [], 0
        while start < len(names):
            # The longest run of pieces, from here, that is one group's name.
            for end in range(min(len(names), start + longest), start, -1):
                found = comma_names.get(_comma_key(names[start:end])) if end - start > 1 else None
                if found is not None or end == start + 1:
                    rejoined.append(found or names[start])
                    start = end
                    break
        if len(rejoined) != len(names):
            changed[names] = rejoined
    return changed

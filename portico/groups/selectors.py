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
    group is called "Residents, North" and no group is called "North". Pieces that are
    all group names of their own stay apart, as the cell's format says (names separated
    by commas), even when joined they name a group too. Returns only the lists that
    changed. One query, none when no list has two pieces."""
    name_lists = [names for names in name_lists if len(names) > 1]
    if not name_lists:
        return {}
    pieces = {piece.strip().lower() for names in name_lists for piece in names}
    found = list(
        Group.objects.annotate(lower=Lower("name"))
        .filter(Q(name__contains=",") | Q(lower__in=pieces))
        .values_list("name", flat=True)
    )
    comma_names = {_comma_key(name.split(",")): name for name in found if "," in name}
    if not comma_names:
        return {}
    own_names = {name.strip().lower() for name in found}
    longest = max(key.count(",") + 1 for key in comma_names)
    changed = {}
    for names in name_lists:
        rejoined, start = [], 0
        while start < len(names):
            # The longest run of pieces, from here, that is one group's name and holds a
            # piece that is no group by itself.
            for end in range(min(len(names), start + longest), start, -1):
                run = names[start:end]
                found_name = comma_names.get(_comma_key(run)) if len(run) > 1 else None
                if found_name and all(p.strip().lower() in own_names for p in run):
                    found_name = None
                if found_name is not None or end == start + 1:
                    rejoined.append(found_name or names[start])
                    start = end
                    break
        if len(rejoined) != len(names):
            changed[names] = rejoined
    return changed

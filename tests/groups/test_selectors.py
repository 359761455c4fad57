"""Reads of groups: the list admins browse, member counts and look-ups by name."""

from __future__ import annotations

from portico.groups.models import Group
from portico.groups.selectors import (
    group_list,
    group_member_count,
    group_names_rejoined,
    groups_by_names,
)
from tests.conftest import make_user


def test_group_list_is_sorted_by_name_whatever_the_case(admin):
    for name in ["beta", "Alpha", "gamma", "Delta"]:
        Group.objects.create(name=name)
    assert [g.name for g in group_list()] == ["Alpha", "beta", "Delta", "gamma"]


def test_group_list_finds_groups_by_part_of_their_name(db):
    for name in ["Neighbours", "Street neighbours", "Staff"]:
        Group.objects.create(name=name)
    assert [g.name for g in group_list(search=" NEIGH ")] == ["Neighbours", "Street neighbours"]


def test_group_list_counts_manual_memberships(db):
    group = Group.objects.create(name="Neighbours")
    for n in range(2):
        group.memberships.create(user=make_user(f"n{n}@mail.example"))
    Group.objects.create(name="Empty")
    assert {g.name: g.manual_count for g in group_list()} == {"Empty": 0, "Neighbours": 2}


def test_group_member_count_counts_the_matching_users_of_a_smart_group(admin, resident):
    smart = Group.objects.create(
        name="City",
        kind=Group.Kind.SMART,
        rules=[{"field": "email_domain", "value": "city.example"}],
    )
    make_user("clerk@city.example")
    assert group_member_count(smart) == 2  # the admin and the clerk


def test_groups_by_names_finds_groups_whatever_the_case_and_names_the_missing(db):
    neighbours = Group.objects.create(name="Neighbours")
    staff = Group.objects.create(name="Staff")
    found, missing = groups_by_names([" neighbours", "STAFF", "Ghosts", "", "  "])
    assert found == {"neighbours": neighbours, "staff": staff}
    assert missing == ["Ghosts"]


def test_groups_by_names_with_no_names_finds_nothing(db):
    Group.objects.create(name="Neighbours")
    assert groups_by_names([]) == ({}, [])


def test_group_names_rejoined_puts_names_with_a_comma_back_together(db):
    Group.objects.create(name="Residents, North")
    Group.objects.create(name="A, B, C")
    Group.objects.create(name="Youth")
    lists = [
        ("Residents", "North"),
        ("youth", "residents", " NORTH "),
        ("A", "B", "C", "Residents"),
        ("Residents",),
        ("Youth", "North"),
    ]
    assert group_names_rejoined(lists) == {
        ("Residents", "North"): ["Residents, North"],
        ("youth", "residents", " NORTH "): ["youth", "Residents, North"],
        ("A", "B", "C", "Residents"): ["A, B, C", "Residents"],
    }


def test_pieces_that_are_groups_of_their_own_stay_apart(db):
    """The cell's format is names separated by commas: "Residents, North" names both
    groups when both exist, even if a third is called "Residents, North"."""
    Group.objects.create(name="Residents")
    Group.objects.create(name="North")
    Group.objects.create(name="Residents, North")
    Group.objects.create(name="Youth, East")
    assert group_names_rejoined([("Residents", "North"), ("Youth", "East", "North")]) == {
        ("Youth", "East", "North"): ["Youth, East", "North"],
    }


def test_group_names_rejoined_asks_nothing_without_a_list_to_join(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert group_names_rejoined([("Youth",), ()]) == {}
    with django_assert_num_queries(1):  # no group has a comma: nothing changes
        assert group_names_rejoined([("Youth", "North")]) == {}

"""Services of the groups app: creating, changing and deleting groups, manual
memberships, and the audit trail each change leaves."""

from __future__ import annotations

import pytest

from portico.accounts.models import User
from portico.core.errors import ApplicationError
from portico.core.models import AuditEvent
from portico.groups.models import Group, Membership
from portico.groups.selectors import group_members
from portico.groups.services import (
    group_add_members,
    group_create,
    group_delete,
    group_remove_members,
    group_update,
)
from portico.projects.models import Project
from tests.conftest import make_user


@pytest.fixture
def neighbours(admin) -> Group:
    return group_create(actor=admin, name="Neighbours", description="People on our street")


@pytest.fixture
def city_staff(admin) -> Group:
    return group_create(
        actor=admin,
        name="City staff",
        kind=Group.Kind.SMART,
        rules=[{"field": "email_domain", "value": "city.example"}],
    )


@pytest.fixture
def people(db) -> list[User]:
    return [make_user(f"person{n}@mail.example") for n in range(3)]


def raises(code: str, call, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        call(**kwargs)
    assert caught.value.code == code
    return caught.value


def events(verb: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb=verb).order_by("id"))


def assert_audited(event: AuditEvent, *, actor: User, verb: str, target: Group) -> None:
    assert event.actor == actor
    assert event.actor_repr == actor.email
    assert event.verb == verb
    assert event.target_type == "groups.group"
    assert event.target_id == str(target.pk)
    assert event.target_repr == target.name
    assert event.created_at is not None


# --- create -------------------------------------------------------------------------


def test_group_create_makes_a_manual_group_and_audits_it(admin):
    group = group_create(actor=admin, name="  Neighbours ", description=" Our street ")
    assert (group.name, group.description, group.kind, group.rules) == (
        "Neighbours",
        "Our street",
        Group.Kind.MANUAL,
        [],
    )
    [event] = events("group.created")
    assert_audited(event, actor=admin, verb="group.created", target=group)
    assert event.details == {"kind": "manual", "rules": []}


def test_group_create_makes_a_smart_group_with_normalised_rules(admin):
    group = group_create(
        actor=admin,
        name="Dutch speakers at the city",
        kind=Group.Kind.SMART,
        rules=[
            {"field": "email_domain", "value": "@City.Example"},
            {"field": "language", "value": "nl-be"},
        ],
    )
    expected = [
        {"field": "email_domain", "value": "city.example"},
        {"field": "language", "value": "nl-BE"},
    ]
    group.refresh_from_db()
    assert group.is_smart
    assert group.rules == expected
    [event] = events("group.created")
    assert event.details == {"kind": "smart", "rules": expected}


def test_group_create_ignores_rules_given_to_a_manual_group(admin):
    group = group_create(actor=admin, name="Hand picked", rules=[{"field": "role", "value": "x"}])
    assert group.rules == []


@pytest.mark.parametrize("taken", ["Neighbours", "neighbours", "NEIGHBOURS", "  neighbours  "])
def test_group_create_refuses_a_name_taken_whatever_the_case(admin, neighbours, taken):
    error = raises("name_taken", group_create, actor=admin, name=taken)
    assert error.status == 409
    assert error.details["field"] == "name"
    assert Group.objects.count() == 1
    assert len(events("group.created")) == 1


def test_group_create_refuses_a_smart_name_that_a_manual_group_has(admin, neighbours):
    raises(
        "name_taken",
        group_create,
        actor=admin,
        name="neighbours",
        kind=Group.Kind.SMART,
        rules=[{"field": "role", "value": "admin"}],
    )


@pytest.mark.parametrize("name", ["", "   ", "x" * 151])
def test_group_create_refuses_a_missing_or_overlong_name(admin, name):
    error = raises("invalid", group_create, actor=admin, name=name)
    assert error.details["field"] == "name"
    assert not Group.objects.exists()


def test_group_create_refuses_an_unknown_kind(admin):
    raises("invalid", group_create, actor=admin, name="Odd", kind="clever")
    assert not Group.objects.exists()


def test_group_create_refuses_a_smart_group_without_rules(admin):
    error = raises("invalid_rule", group_create, actor=admin, name="Empty", kind="smart")
    assert error.status == 422
    assert not Group.objects.exists()
    assert not AuditEvent.objects.exists()


def test_group_create_refuses_a_smart_group_with_a_bad_rule(admin):
    error = raises(
        "invalid_rule",
        group_create,
        actor=admin,
        name="Bad",
        kind="smart",
        rules=[{"field": "role", "value": "admin"}, {"field": "language", "value": "de"}],
    )
    assert error.details["position"] == 2
    assert not Group.objects.exists()


# --- update -------------------------------------------------------------------------


def test_group_update_renames_and_describes_and_audits_the_changes(admin, neighbours):
    group_update(actor=admin, group=neighbours, name="Street", description="  New text ")
    neighbours.refresh_from_db()
    assert (neighbours.name, neighbours.description) == ("Street", "New text")
    [event] = events("group.updated")
    assert_audited(event, actor=admin, verb="group.updated", target=neighbours)
    assert event.details == {"name": "Street", "description": "New text"}


def test_group_update_audits_only_what_changed(admin, neighbours):
    group_update(actor=admin, group=neighbours, name="Neighbours", description="Changed")
    [event] = events("group.updated")
    assert event.details == {"description": "Changed"}


def test_group_update_without_changes_records_nothing(admin, neighbours):
    group_update(
        actor=admin, group=neighbours, name=" Neighbours ", description="People on our street"
    )
    assert events("group.updated") == []


def test_group_update_may_change_only_the_case_of_the_name(admin, neighbours):
    group_update(actor=admin, group=neighbours, name="NEIGHBOURS")
    neighbours.refresh_from_db()
    assert neighbours.name == "NEIGHBOURS"


def test_group_update_refuses_the_name_of_another_group_whatever_the_case(
    admin, neighbours, city_staff
):
    raises("name_taken", group_update, actor=admin, group=city_staff, name="nEIGHBOURS")
    city_staff.refresh_from_db()
    assert city_staff.name == "City staff"
    assert events("group.updated") == []


def test_group_update_changes_the_rules_of_a_smart_group(admin, city_staff):
    group_update(
        actor=admin,
        group=city_staff,
        rules=[{"field": "role", "value": "admin"}, {"field": "language", "value": "EN"}],
    )
    city_staff.refresh_from_db()
    expected = [{"field": "role", "value": "admin"}, {"field": "language", "value": "en"}]
    assert city_staff.rules == expected
    [event] = events("group.updated")
    assert event.details == {"rules": expected}


def test_group_update_refuses_to_empty_the_rules_of_a_smart_group(admin, city_staff):
    raises("invalid_rule", group_update, actor=admin, group=city_staff, rules=[])
    city_staff.refresh_from_db()
    assert city_staff.rules == [{"field": "email_domain", "value": "city.example"}]


def test_group_update_refuses_a_bad_rule_and_keeps_the_old_ones(admin, city_staff):
    raises(
        "invalid_rule",
        group_update,
        actor=admin,
        group=city_staff,
        name="Renamed",
        rules=[{"field": "email_domain", "value": "nodot"}],
    )
    city_staff.refresh_from_db()
    assert city_staff.name == "City staff"
    assert city_staff.rules == [{"field": "email_domain", "value": "city.example"}]


# --- delete -------------------------------------------------------------------------


def test_group_delete_removes_the_group_and_its_memberships_but_keeps_the_users(
    admin, neighbours, people
):
    group_add_members(actor=admin, group=neighbours, users=people)
    group_pk = neighbours.pk
    group_delete(actor=admin, group=neighbours)
    assert not Group.objects.filter(pk=group_pk).exists()
    assert not Membership.objects.filter(group_id=group_pk).exists()
    assert User.objects.filter(pk__in=[p.pk for p in people]).count() == len(people)
    [event] = events("group.deleted")
    assert event.actor == admin
    assert (event.target_type, event.target_id, event.target_repr) == (
        "groups.group",
        str(group_pk),
        "Neighbours",
    )
    assert event.details == {"name": "Neighbours"}


def test_group_delete_leaves_the_projects_that_were_open_to_it(admin, neighbours):
    project = Project.objects.create(title="Garden", visibility=Project.Visibility.GROUPS)
    project.groups.add(neighbours)
    group_delete(actor=admin, group=neighbours)
    project.refresh_from_db()
    assert list(project.groups.all()) == []


def test_group_delete_keeps_the_other_groups_memberships(admin, neighbours, people):
    other = group_create(actor=admin, name="Others")
    group_add_members(actor=admin, group=neighbours, users=people)
    group_add_members(actor=admin, group=other, users=people[:1])
    group_delete(actor=admin, group=neighbours)
    assert list(group_members(other)) == people[:1]


# --- manual memberships ---------------------------------------------------------------


def test_group_add_members_adds_users_and_audits_each(admin, neighbours, people):
    assert group_add_members(actor=admin, group=neighbours, users=people) == 3
    assert set(group_members(neighbours)) == set(people)
    added = events("group.member_added")
    assert [e.details for e in added] == [{"user": p.email} for p in people]
    for event in added:
        assert_audited(event, actor=admin, verb="group.member_added", target=neighbours)


def test_group_add_members_again_adds_nobody_and_records_nothing(admin, neighbours, people):
    group_add_members(actor=admin, group=neighbours, users=people)
    assert group_add_members(actor=admin, group=neighbours, users=people) == 0
    assert Membership.objects.filter(group=neighbours).count() == 3
    assert len(events("group.member_added")) == 3


def test_group_add_members_counts_only_the_new_ones(admin, neighbours, people):
    group_add_members(actor=admin, group=neighbours, users=people[:1])
    assert group_add_members(actor=admin, group=neighbours, users=people) == 2
    assert [e.details["user"] for e in events("group.member_added")] == [p.email for p in people]


def test_group_add_members_counts_a_user_listed_twice_once(admin, neighbours, people):
    assert group_add_members(actor=admin, group=neighbours, users=[people[0], people[0]]) == 1
    assert len(events("group.member_added")) == 1


def test_group_add_members_with_nobody_adds_nobody(admin, neighbours):
    assert group_add_members(actor=admin, group=neighbours, users=[]) == 0
    assert events("group.member_added") == []


def test_group_remove_members_removes_users_and_audits_each(admin, neighbours, people):
    group_add_members(actor=admin, group=neighbours, users=people)
    assert group_remove_members(actor=admin, group=neighbours, users=people[:2]) == 2
    assert list(group_members(neighbours)) == people[2:]
    removed = events("group.member_removed")
    assert [e.details for e in removed] == [{"user": p.email} for p in people[:2]]
    for event in removed:
        assert_audited(event, actor=admin, verb="group.member_removed", target=neighbours)
    assert User.objects.filter(pk=people[0].pk).exists()


def test_group_remove_members_again_removes_nobody_and_records_nothing(admin, neighbours, people):
    group_add_members(actor=admin, group=neighbours, users=people)
    group_remove_members(actor=admin, group=neighbours, users=people[:1])
    assert group_remove_members(actor=admin, group=neighbours, users=people[:1]) == 0
    assert len(events("group.member_removed")) == 1


def test_group_remove_members_counts_a_user_listed_twice_once(admin, neighbours, people):
    group_add_members(actor=admin, group=neighbours, users=people)
    assert group_remove_members(actor=admin, group=neighbours, users=[people[0], people[0]]) == 1
    assert len(events("group.member_removed")) == 1


def test_group_remove_members_ignores_users_who_are_not_members(admin, neighbours, people):
    group_add_members(actor=admin, group=neighbours, users=people[:1])
    assert group_remove_members(actor=admin, group=neighbours, users=people) == 1
    assert [e.details["user"] for e in events("group.member_removed")] == [people[0].email]


def test_group_remove_members_from_one_group_leaves_the_other(admin, neighbours, people):
    other = group_create(actor=admin, name="Others")
    group_add_members(actor=admin, group=neighbours, users=people[:1])
    group_add_members(actor=admin, group=other, users=people[:1])
    group_remove_members(actor=admin, group=neighbours, users=people[:1])
    assert list(group_members(other)) == people[:1]


@pytest.mark.parametrize("service", [group_add_members, group_remove_members])
def test_a_smart_group_refuses_manual_membership_changes(admin, city_staff, service):
    clerk = make_user("clerk@city.example")
    error = raises("smart_group_membership", service, actor=admin, group=city_staff, users=[clerk])
    assert error.details["group"] == "City staff"
    assert not Membership.objects.exists()
    assert not AuditEvent.objects.filter(verb__startswith="group.member_").exists()
    # The clerk still is a member, by the rules (as is the admin, of city.example too).
    assert set(group_members(city_staff)) == {admin, clerk}


def test_the_audit_trail_of_a_group_lists_its_changes_in_order(admin, neighbours, people):
    group_update(actor=admin, group=neighbours, name="Street")
    group_add_members(actor=admin, group=neighbours, users=people[:1])
    group_remove_members(actor=admin, group=neighbours, users=people[:1])
    group_pk = neighbours.pk
    group_delete(actor=admin, group=neighbours)
    trail = AuditEvent.objects.filter(target_type="groups.group", target_id=str(group_pk))
    assert [e.verb for e in trail.order_by("id")] == [
        "group.created",
        "group.updated",
        "group.member_added",
        "group.member_removed",
        "group.deleted",
    ]
    assert {e.actor_id for e in trail} == {admin.pk}

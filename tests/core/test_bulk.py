"""Inserting many rows through the database's fastest path: reserved ids are never
handed out twice, rows land as given, and big lookups bind one parameter."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portico.accounts.models import User
from portico.core.bulk import (
    db_datetime,
    insert_for_ids,
    insert_rows,
    reserve_ids,
    update_objects,
    values_subquery,
)
from portico.groups.models import Group, Membership

pytestmark = pytest.mark.django_db


def _insert_groups(ids: list[int]) -> None:
    now = db_datetime(timezone.now())
    insert_rows(
        Group._meta.db_table,
        ("id", "name", "description", "kind", "rules", "created_at"),
        [(pk, f"Group {pk}", "", "manual", "[]", now) for pk in ids],
    )


def test_reserved_ids_are_new_and_not_handed_out_again():
    """Reserved, then inserted in the same transaction (the helpers' contract)."""
    existing = Group.objects.create(name="Existing")
    with transaction.atomic():
        first = reserve_ids(Group, 500)
        _insert_groups(first)
    with transaction.atomic():
        second = reserve_ids(Group, 3)
        _insert_groups(second)
    after = Group.objects.create(name="Made by the ORM")

    assert len(set(first)) == 500
    assert min(first) > existing.pk
    assert not set(second) & set(first)
    assert after.pk not in set(first) | set(second)
    assert Group.objects.filter(pk__in=first).count() == 500


def test_reserved_ids_follow_the_sequence_even_when_it_does_not_count_by_one():
    """On PostgreSQL the ids come from the table's sequence; a run that is not unbroken
    (other inserts interleaved, a sequence stepping by more than one) is returned value
    by value. SQLite hands out ids past the highest ever used."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [Group._meta.db_table])
            (sequence,) = cursor.fetchone()
            cursor.execute(f"ALTER SEQUENCE {sequence} INCREMENT BY 3")
    Group.objects.create(name="Existing")
    ids = reserve_ids(Group, 4)
    step = 3 if connection.vendor == "postgresql" else 1
    assert [b - a for a, b in itertools.pairwise(ids)] == [step] * 3
    with transaction.atomic():
        _insert_groups(ids)
    assert sorted(Group.objects.exclude(name="Existing").values_list("pk", flat=True)) == ids


def test_nothing_reserved_for_nothing():
    assert reserve_ids(Group, 0) == []


def test_a_lookup_of_many_values_is_one_bound_parameter():
    Group.objects.create(name="b")
    wanted = ["a", "b", *(f"x{i}" for i in range(5000))]
    assert list(
        Group.objects.filter(name__in=values_subquery(wanted)).values_list("name", flat=True)
    ) == ["b"]


def test_rows_for_many_ids_get_their_id_and_the_same_values():
    with transaction.atomic():
        ids = reserve_ids(Group, 3)
        _insert_groups(ids)
    users = [User.objects.create_user(f"u{i}@x.example") for i in range(2)]
    added = timezone.now()
    insert_for_ids(
        Membership._meta.db_table,
        "user_id",
        [u.pk for u in users],
        group_id=ids[1],
        added_at=db_datetime(added),
    )
    assert sorted(Membership.objects.values_list("user_id", "group_id", "added_at")) == [
        (users[0].pk, ids[1], added),
        (users[1].pk, ids[1], added),
    ]


def test_no_ids_insert_nothing():
    insert_for_ids(Membership._meta.db_table, "user_id", [], group_id=1, added_at=None)
    assert not Membership.objects.exists()


def test_rows_for_scattered_ids_in_any_order_get_exactly_those_ids():
    """Ids that are not one unbroken run (and out of order) travel value by value."""
    users = [User.objects.create_user(f"u{i}@x.example") for i in range(5)]
    group = Group.objects.create(name="Scattered")
    picked = [users[4].pk, users[0].pk, users[2].pk]
    added = db_datetime(timezone.now())
    insert_for_ids(Membership._meta.db_table, "user_id", picked, group_id=group.pk, added_at=added)
    assert sorted(Membership.objects.values_list("user_id", flat=True)) == sorted(picked)


def test_rows_for_an_unbroken_run_of_ids_get_every_id_of_the_run():
    users = [User.objects.create_user(f"u{i}@x.example") for i in range(4)]
    run = [u.pk for u in users]
    assert run == list(range(run[0], run[0] + 4))  # a run, as reserve_ids returns
    group = Group.objects.create(name="Run")
    added = db_datetime(timezone.now())
    insert_for_ids(Membership._meta.db_table, "user_id", run, group_id=group.pk, added_at=added)
    assert sorted(Membership.objects.values_list("user_id", flat=True)) == run


def test_a_lookup_matches_values_with_quotes_commas_braces_and_accents_exactly():
    names = ['O\'Brien "Residents"', "North, South", "{braces}", "Écoles \\ back", "NULL"]
    for name in names:
        Group.objects.create(name=name)
    Group.objects.create(name="Not asked for")
    found = Group.objects.filter(name__in=values_subquery([*names, "absent"]))
    assert sorted(found.values_list("name", flat=True)) == sorted(names)


def test_objects_are_updated_each_with_its_own_values_in_one_statement(monkeypatch):
    """Text with quotes and accents, booleans both ways, datetimes, empty values and
    foreign keys land as set; rows not given and fields not named are left alone."""
    monkeypatch.setattr("portico.core.bulk.UPDATE_CHUNK", 2)
    users = [User.objects.create_user(f"u{n}@bulk.example") for n in range(4)]
    verified = timezone.now().replace(microsecond=123456)
    users[0].first_name, users[0].is_admin = 'Zoë "Z" O\'Neil, {x}', True
    users[1].first_name, users[1].email_verified_at = "Jean-Luc", verified
    users[2].first_name, users[2].is_active = "", False
    users[3].last_name = "not saved: the field is not named"

    with CaptureQueriesContext(connection) as queries:
        update_objects(users[:3], ["first_name", "is_admin", "is_active", "email_verified_at"])

    assert len(queries) == 2  # chunks of two objects
    stored = {u.pk: u for u in User.objects.all()}
    first, second, third, untouched = (stored[u.pk] for u in users)
    assert (first.first_name, first.is_admin, first.is_active) == (
        'Zoë "Z" O\'Neil, {x}',
        True,
        True,
    )
    assert first.email_verified_at is None
    assert (second.first_name, second.email_verified_at, second.is_admin) == (
        "Jean-Luc",
        verified,
        False,
    )
    assert (third.first_name, third.is_active) == ("", False)
    assert untouched.last_name == ""


def test_foreign_keys_are_updated_by_their_id():
    group = Group.objects.create(name="Linked")
    memberships = [
        Membership.objects.create(group=group, user=User.objects.create_user(f"m{n}@b.example"))
        for n in range(2)
    ]
    other = User.objects.create_user("other@b.example")
    memberships[0].user = other

    update_objects(memberships[:1], ["user"])

    assert Membership.objects.get(pk=memberships[0].pk).user_id == other.pk
    assert Membership.objects.get(pk=memberships[1].pk).user_id != other.pk


def test_no_objects_update_nothing():
    with CaptureQueriesContext(connection) as queries:
        update_objects([], ["first_name"])
    assert len(queries) == 0


def test_json_fields_are_refused():
    """SQLite would store the JSON value unwrapped (a string as bare text)."""
    group = Group.objects.create(name="Rules", rules=[])
    group.rules = "not a list"
    with pytest.raises(ValueError, match="JSON fields"):
        update_objects([group], ["rules"])
    assert Group.objects.get(pk=group.pk).rules == []

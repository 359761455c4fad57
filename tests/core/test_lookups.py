"""``field__one_of=ids``: one bound parameter for any number of ids, on primary keys and
foreign keys, matching exactly the ids given."""

from __future__ import annotations

import pytest
from django.db import connection

from portico.accounts.models import User
from portico.groups.models import Group, Membership

pytestmark = pytest.mark.django_db


def test_it_selects_exactly_the_ids_given_whatever_their_number():
    users = [User.objects.create_user(f"u{n}@lookups.example") for n in range(5)]
    wanted = [users[0].pk, users[3].pk, users[3].pk, 10**9]  # a repeat, an unknown id

    assert sorted(User.objects.filter(pk__one_of=wanted).values_list("pk", flat=True)) == [
        users[0].pk,
        users[3].pk,
    ]
    assert not User.objects.filter(pk__one_of=[]).exists()


def test_it_binds_the_ids_as_one_parameter():
    seen = []

    def record(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        list(User.objects.filter(pk__one_of=list(range(1, 5001))))

    ((sql, params),) = seen
    assert ("= ANY(" if connection.vendor == "postgresql" else "json_each(") in sql
    assert len(params) == 1


def test_it_works_on_foreign_keys():
    group = Group.objects.create(name="Lookups")
    members = [User.objects.create_user(f"m{n}@lookups.example") for n in range(3)]
    for user in members:
        Membership.objects.create(group=group, user=user)

    chosen = Membership.objects.filter(user_id__one_of=[members[0].pk, members[2].pk])
    assert sorted(chosen.values_list("user_id", flat=True)) == [members[0].pk, members[2].pk]
    assert Membership.objects.filter(user__one_of=[members[1].pk]).get().user == members[1]

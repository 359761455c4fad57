"""A small platform for the project tests: projects of every visibility, a manual group
with a member, a smart group with a user who matches it."""

from __future__ import annotations

import pytest
from django.test import Client

from portico.groups.models import Group
from portico.projects.models import Project
from tests.conftest import make_user


@pytest.fixture
def neighbours(db) -> Group:
    return Group.objects.create(name="Neighbours")


@pytest.fixture
def staff(db) -> Group:
    return Group.objects.create(
        name="Staff",
        kind=Group.Kind.SMART,
        rules=[{"field": "email_domain", "value": "staff.example"}],
    )


@pytest.fixture
def projects(moderator, neighbours, staff) -> dict[str, Project]:
    """Every kind of project, by a short name. "moderated" is the moderator fixture's."""

    def make(title: str, visibility: str, *groups: Group) -> Project:
        project = Project.objects.create(title=title, visibility=visibility)
        project.groups.set(groups)
        return project

    return {
        "public": make("Town square", Project.Visibility.EVERYONE),
        "admins": make("Council backroom", Project.Visibility.ADMINS),
        "manual": make("Neighbourhood garden", Project.Visibility.GROUPS, neighbours),
        "smart": make("Staff canteen", Project.Visibility.GROUPS, staff),
        "both": make("Street party", Project.Visibility.GROUPS, neighbours, staff),
        "moderated": Project.objects.get(title="Moderated project"),
    }


@pytest.fixture
def member(neighbours):
    user = make_user("nina.neighbour@mail.example")
    neighbours.memberships.create(user=user)
    return user


@pytest.fixture
def smart_member(staff):
    return make_user("sam.staff@STAFF.example")


@pytest.fixture
def member_client(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def smart_member_client(smart_member) -> Client:
    client = Client()
    client.force_login(smart_member)
    return client

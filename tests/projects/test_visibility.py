"""Who sees which project, on the home page and in the API: one rule for both.

Admins see everything; moderators see the projects they moderate; everyone sees public
projects; members of a group (by hand or by a smart group's rules) see the projects open
to that group. A hidden project answers 404, exactly like a missing one."""

from __future__ import annotations

import pytest
from django.test import Client

from portico.groups.models import Group
from portico.projects.models import Project
from tests.conftest import make_user

# What each persona sees, by the short names of the ``projects`` fixture.
SEES = {
    "anonymous": {"public"},
    "resident": {"public"},
    "member": {"public", "manual", "both"},
    "smart_member": {"public", "smart", "both"},
    "moderator": {"public", "moderated"},
    "admin": {"public", "admins", "manual", "smart", "both", "moderated"},
}
ALL = SEES["admin"]


def client_of(request, persona: str) -> Client:
    return request.getfixturevalue(f"{persona}_client")


def titles(projects: dict[str, Project], names) -> list[str]:
    return sorted(projects[name].title for name in names)


def home_titles(client: Client) -> list[str]:
    response = client.get("/")
    assert response.status_code == 200
    # Sorted here: the database collation need not sort like Python does.
    return sorted(p.title for p in response.context["projects"])


def api_titles(client: Client) -> list[str]:
    response = client.get("/api/v1/projects")
    assert response.status_code == 200
    return sorted(p["title"] for p in response.json())


@pytest.mark.parametrize("persona", SEES)
def test_the_home_page_lists_exactly_the_projects_open_to_the_visitor(request, projects, persona):
    client = client_of(request, persona)
    assert home_titles(client) == titles(projects, SEES[persona])


@pytest.mark.parametrize("persona", SEES)
def test_the_home_page_shows_no_title_of_a_hidden_project(request, projects, persona):
    html = client_of(request, persona).get("/").content.decode()
    for name in ALL:
        assert (projects[name].title in html) == (name in SEES[persona])


@pytest.mark.parametrize("persona", SEES)
def test_the_api_lists_exactly_the_projects_open_to_the_caller(request, projects, persona):
    client = client_of(request, persona)
    assert api_titles(client) == titles(projects, SEES[persona])


@pytest.mark.parametrize("persona", SEES)
def test_the_api_and_the_home_page_agree(request, projects, persona):
    client = client_of(request, persona)
    assert api_titles(client) == home_titles(client)


@pytest.mark.parametrize(
    ("persona", "name"), [(persona, name) for persona in SEES for name in sorted(ALL)]
)
def test_a_project_page_opens_only_for_those_who_may_see_it(request, projects, persona, name):
    client = client_of(request, persona)
    response = client.get(f"/projects/{projects[name].pk}/")
    if name in SEES[persona]:
        assert response.status_code == 200
        assert response.context["project"] == projects[name]
    else:
        # Not 403: a hidden project's existence is not told.
        assert response.status_code == 404
        assert projects[name].title not in response.content.decode()


@pytest.mark.parametrize(
    ("persona", "name"), [(persona, name) for persona in SEES for name in sorted(ALL)]
)
def test_the_api_answers_a_hidden_project_like_a_missing_one(request, projects, persona, name):
    client = client_of(request, persona)
    response = client.get(f"/api/v1/projects/{projects[name].pk}")
    if name in SEES[persona]:
        assert response.status_code == 200
        assert response.json()["title"] == projects[name].title
    else:
        missing = client.get("/api/v1/projects/999999")
        assert response.status_code == missing.status_code == 404
        assert response.json() == missing.json()
        assert response.json()["errors"][0]["code"] == "not_found"


def test_a_missing_project_page_answers_404(resident_client, projects):
    assert resident_client.get("/projects/999999/").status_code == 404


def test_a_project_open_to_two_of_my_groups_is_listed_once(projects, member, staff):
    # Nina is in Neighbours by hand; with a staff address she also matches Staff.
    member.email = "nina@staff.example"
    member.save()
    client = Client()
    client.force_login(member)
    expected = titles(projects, {"public", "manual", "smart", "both"})
    assert home_titles(client) == expected
    assert api_titles(client) == expected


def test_a_moderator_sees_a_group_project_they_moderate_without_being_a_member(
    projects, moderator, moderator_client
):
    projects["smart"].moderators.add(moderator)
    expected = titles(projects, {"public", "moderated", "smart"})
    assert home_titles(moderator_client) == expected
    assert api_titles(moderator_client) == expected


def test_a_smart_group_of_moderators_opens_a_project_to_every_moderator(
    projects, moderator_client, resident_client
):
    moderators = Group.objects.create(
        name="Moderators", kind=Group.Kind.SMART, rules=[{"field": "role", "value": "moderator"}]
    )
    backstage = Project.objects.create(title="Backstage", visibility=Project.Visibility.GROUPS)
    backstage.groups.add(moderators)
    assert "Backstage" in home_titles(moderator_client)
    assert "Backstage" not in home_titles(resident_client)


def test_joining_and_leaving_a_group_opens_and_closes_its_projects(
    projects, neighbours, resident, resident_client
):
    garden = projects["manual"]
    neighbours.memberships.create(user=resident)
    assert garden.title in home_titles(resident_client)
    assert resident_client.get(f"/projects/{garden.pk}/").status_code == 200
    neighbours.memberships.filter(user=resident).delete()
    assert garden.title not in home_titles(resident_client)
    assert resident_client.get(f"/projects/{garden.pk}/").status_code == 404


def test_a_smart_group_opens_its_projects_to_new_users_who_match(projects):
    newcomer = make_user("nora@staff.example")
    client = Client()
    client.force_login(newcomer)
    assert home_titles(client) == titles(projects, {"public", "smart", "both"})


def test_a_group_project_without_groups_is_for_admins_only(
    projects, admin_client, member_client, moderator_client
):
    lonely = Project.objects.create(title="Forgotten", visibility=Project.Visibility.GROUPS)
    assert "Forgotten" in home_titles(admin_client)
    for client in (member_client, moderator_client):
        assert "Forgotten" not in home_titles(client)
        assert client.get(f"/projects/{lonely.pk}/").status_code == 404


def test_the_home_page_offers_edit_links_only_for_editable_projects(
    projects, moderator_client, admin_client
):
    editable = moderator_client.get("/").context["editable"]
    assert editable == {projects["moderated"].pk}
    assert admin_client.get("/").context["editable"] == {p.pk for p in projects.values()}


def test_the_home_page_says_so_when_nothing_is_open(anonymous_client, db):
    Project.objects.create(title="Secret", visibility=Project.Visibility.ADMINS)
    response = anonymous_client.get("/")
    assert list(response.context["projects"]) == []
    assert "There are no projects open to you yet." in response.content.decode()


def test_a_blocked_member_signed_in_before_sees_only_public_projects(
    projects, member, member_client
):
    member.is_active = False
    member.save()
    assert home_titles(member_client) == titles(projects, {"public"})
    assert api_titles(member_client) == titles(projects, {"public"})

"""Moderators change the title and description of the projects they moderate, on the
page and through the API; who may see a project and who moderates it are for admins.
Every change is audited."""

from __future__ import annotations

import pytest

from portico.core.models import AuditEvent
from portico.groups.models import Group
from portico.groups.services import group_delete
from portico.projects.models import Project
from tests.conftest import make_user


@pytest.fixture
def own(moderator) -> Project:
    return Project.objects.get(title="Moderated project")


@pytest.fixture
def other(db) -> Project:
    """A project the moderator sees (it is public) but does not moderate."""
    return Project.objects.create(title="Town square", description="Benches")


def patch(client, project: Project, **payload):
    return client.patch(f"/api/v1/projects/{project.pk}", payload, content_type="application/json")


def events(verb: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb=verb).order_by("id"))


def assert_unchanged(project: Project) -> None:
    before = (project.title, project.description, project.visibility)
    groups = set(project.groups.all())
    moderators = set(project.moderators.all())
    project.refresh_from_db()
    assert (project.title, project.description, project.visibility) == before
    assert set(project.groups.all()) == groups
    assert set(project.moderators.all()) == moderators


# --- the edit page ----------------------------------------------------------------------


def test_a_moderator_opens_the_edit_page_of_their_project_with_title_and_description_only(
    moderator_client, own
):
    response = moderator_client.get(f"/projects/{own.pk}/edit/")
    assert response.status_code == 200
    assert set(response.context["form"].fields) == {"title", "description"}
    assert response.context["form"].initial["title"] == "Moderated project"


def test_a_moderator_edits_their_project_on_the_page(moderator, moderator_client, own):
    response = moderator_client.post(
        f"/projects/{own.pk}/edit/", {"title": " Park renewal ", "description": "Trees first"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/projects/{own.pk}/"
    own.refresh_from_db()
    assert (own.title, own.description) == ("Park renewal", "Trees first")
    assert own.visibility == Project.Visibility.ADMINS
    assert list(own.moderators.all()) == [moderator]
    [event] = events("project.updated")
    assert event.actor == moderator
    assert (event.target_type, event.target_id, event.target_repr) == (
        "projects.project",
        str(own.pk),
        "Park renewal",
    )
    assert event.details == {"title": "Park renewal", "description": "Trees first"}


def test_the_edit_page_ignores_visibility_fields_a_moderator_slips_in(moderator_client, own, other):
    neighbours = Group.objects.create(name="Neighbours")
    moderator_client.post(
        f"/projects/{own.pk}/edit/",
        {
            "title": "Moderated project",
            "description": "New",
            "visibility": "everyone",
            "groups": [neighbours.pk],
            "moderators": [],
        },
    )
    own.refresh_from_db()
    assert own.description == "New"
    assert own.visibility == Project.Visibility.ADMINS
    assert own.moderators.exists()
    assert not own.groups.exists()


def test_the_edit_page_refuses_an_empty_title(moderator_client, own):
    response = moderator_client.post(f"/projects/{own.pk}/edit/", {"title": "  "})
    assert response.status_code == 200
    assert response.context["form"].errors
    own.refresh_from_db()
    assert own.title == "Moderated project"
    assert events("project.updated") == []


def test_saving_the_page_unchanged_records_nothing(moderator_client, own):
    response = moderator_client.post(
        f"/projects/{own.pk}/edit/", {"title": own.title, "description": own.description}
    )
    assert response.status_code == 302
    assert events("project.updated") == []


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_moderator_may_not_edit_another_project_on_the_page(moderator_client, other, method):
    response = getattr(moderator_client, method)(
        f"/projects/{other.pk}/edit/", {"title": "Taken over", "description": ""}
    )
    assert response.status_code == 403
    assert_unchanged(other)
    assert events("project.updated") == []


def test_a_resident_may_not_edit_a_project_on_the_page(resident_client, other):
    response = resident_client.post(f"/projects/{other.pk}/edit/", {"title": "Mine"})
    assert response.status_code == 403
    assert_unchanged(other)


def test_the_edit_page_of_a_hidden_project_answers_404_like_its_detail_page(resident_client, own):
    # The detail page does not tell that the project exists; neither does its edit page.
    assert resident_client.get(f"/projects/{own.pk}/").status_code == 404
    assert resident_client.get(f"/projects/{own.pk}/edit/").status_code == 404
    assert resident_client.post(f"/projects/{own.pk}/edit/", {"title": "x"}).status_code == 404
    assert_unchanged(own)


def test_the_edit_page_sends_anonymous_visitors_to_sign_in(anonymous_client, other):
    response = anonymous_client.get(f"/projects/{other.pk}/edit/")
    assert response.status_code == 302
    assert "/accounts/" in response["Location"]


def test_the_project_page_offers_the_edit_link_to_its_moderator_only(moderator_client, own, other):
    assert moderator_client.get(f"/projects/{own.pk}/").context["can_edit"] is True
    assert moderator_client.get(f"/projects/{other.pk}/").context["can_edit"] is False


def test_an_admin_edits_any_project_on_the_moderator_page(admin, admin_client, other):
    response = admin_client.post(
        f"/projects/{other.pk}/edit/", {"title": "Town square", "description": "Fountain"}
    )
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.description == "Fountain"
    [event] = events("project.updated")
    assert event.actor == admin


def test_a_moderator_still_edits_a_group_project_whose_groups_were_deleted(
    admin, moderator_client, own
):
    # The admin opened the project to a group, then deleted the group: the moderator,
    # who cannot choose groups, must still be able to fix a typo.
    street = Group.objects.create(name="Street")
    own.visibility = Project.Visibility.GROUPS
    own.save()
    own.groups.add(street)
    group_delete(actor=admin, group=street)
    response = moderator_client.post(
        f"/projects/{own.pk}/edit/", {"title": "Moderated project", "description": "Typo fixed"}
    )
    assert response.status_code == 302
    own.refresh_from_db()
    assert own.description == "Typo fixed"


# --- the API ----------------------------------------------------------------------------


def test_a_moderator_edits_their_project_through_the_api(moderator, moderator_client, own):
    response = patch(moderator_client, own, title="Park renewal", description="Trees first")
    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["description"], body["visibility"]) == (
        "Park renewal",
        "Trees first",
        "admins",
    )
    assert body["moderator_ids"] == [moderator.pk]
    own.refresh_from_db()
    assert own.title == "Park renewal"
    [event] = events("project.updated")
    assert event.actor == moderator
    assert event.details == {"title": "Park renewal", "description": "Trees first"}


def test_a_moderator_may_patch_only_the_description(moderator_client, own):
    response = patch(moderator_client, own, description="Only this")
    assert response.status_code == 200
    own.refresh_from_db()
    assert (own.title, own.description) == ("Moderated project", "Only this")
    assert events("project.updated")[0].details == {"description": "Only this"}


def test_a_moderator_may_not_patch_another_project(moderator_client, other):
    response = patch(moderator_client, other, title="Taken over")
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"
    assert_unchanged(other)
    assert events("project.updated") == []


@pytest.mark.parametrize(
    "payload",
    [
        {"visibility": "everyone"},
        {"visibility": "admins"},
        {"group_ids": []},
        {"moderator_ids": []},
        {"title": "Sneaky", "moderator_ids": []},
        {"description": "Sneaky", "visibility": "everyone"},
    ],
    ids=["visibility", "same-visibility", "groups", "moderators", "title+mods", "desc+vis"],
)
def test_a_moderator_may_not_change_who_sees_or_moderates_their_project(
    moderator_client, own, payload
):
    response = patch(moderator_client, own, **payload)
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"
    assert_unchanged(own)
    assert not AuditEvent.objects.filter(verb__startswith="project.").exists()


def test_a_moderator_may_not_add_another_moderator(moderator, moderator_client, own):
    friend = make_user("friend@mail.example")
    response = patch(moderator_client, own, moderator_ids=[moderator.pk, friend.pk])
    assert response.status_code == 403
    assert list(own.moderators.all()) == [moderator]


def test_a_resident_may_not_patch_a_public_project(resident_client, other):
    response = patch(resident_client, other, title="Mine")
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"
    assert_unchanged(other)


def test_patching_a_hidden_project_answers_404_like_reading_it(resident_client, own):
    assert resident_client.get(f"/api/v1/projects/{own.pk}").status_code == 404
    response = patch(resident_client, own, title="Mine")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"
    assert_unchanged(own)


def test_an_anonymous_caller_may_not_patch(anonymous_client, other):
    response = patch(anonymous_client, other, title="Mine")
    assert response.status_code == 401
    assert_unchanged(other)


def test_a_moderator_may_not_delete_their_project(moderator_client, own):
    response = moderator_client.delete(f"/api/v1/projects/{own.pk}")
    assert response.status_code == 403
    assert Project.objects.filter(pk=own.pk).exists()


# --- admins and moderators: audited ----------------------------------------------------


def test_an_admin_adds_and_removes_moderators_and_each_change_is_audited(
    admin, admin_client, moderator, own
):
    first = make_user("first@mail.example")
    second = make_user("second@mail.example")
    response = patch(admin_client, own, moderator_ids=[first.pk, second.pk])
    assert response.status_code == 200
    assert response.json()["moderator_ids"] == sorted([first.pk, second.pk])
    added = events("project.moderator_added")
    removed = events("project.moderator_removed")
    assert sorted(e.details["user"] for e in added) == [first.email, second.email]
    assert [e.details["user"] for e in removed] == [moderator.email]
    for event in added + removed:
        assert event.actor == admin
        assert (event.target_type, event.target_id) == ("projects.project", str(own.pk))
    # Moderators are not "project.updated": nothing else changed.
    assert events("project.updated") == []


def test_setting_the_same_moderators_again_records_nothing(admin_client, moderator, own):
    response = patch(admin_client, own, moderator_ids=[moderator.pk])
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(verb__startswith="project.moderator").exists()


def test_a_removed_moderator_can_no_longer_edit(admin_client, moderator_client, own):
    patch(admin_client, own, moderator_ids=[])
    assert patch(moderator_client, own, title="Still mine?").status_code == 404
    assert moderator_client.get(f"/projects/{own.pk}/edit/").status_code == 404


def test_an_admin_changes_who_may_see_a_project_and_it_is_audited(admin, admin_client, own):
    street = Group.objects.create(name="Street")
    response = patch(admin_client, own, visibility="groups", group_ids=[street.pk])
    assert response.status_code == 200
    assert response.json()["group_ids"] == [street.pk]
    [event] = events("project.updated")
    assert event.actor == admin
    assert event.details == {"visibility": "groups", "groups": ["Street"]}


def test_an_admin_may_not_open_a_project_to_no_group(admin_client, own):
    response = patch(admin_client, own, visibility="groups", group_ids=[])
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "groups_required"
    assert_unchanged(own)

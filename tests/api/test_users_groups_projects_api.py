"""The admin operations of the JSON API on users, groups and projects, its error shape,
session authentication with CSRF, and the published schema and docs."""

from __future__ import annotations

import pytest
from django.test import Client

from portico.accounts.models import User
from portico.core.models import AuditEvent
from portico.groups.models import Group, Membership
from portico.projects.models import Project
from tests.conftest import make_user

JSON = "application/json"


def post(client: Client, path: str, body: object):
    return client.post(path, body, content_type=JSON)


def patch(client: Client, path: str, body: object):
    return client.patch(path, body, content_type=JSON)


def codes(response) -> list[str]:
    return [error["code"] for error in response.json()["errors"]]


def audited(verb: str, target: object) -> AuditEvent:
    return AuditEvent.objects.get(verb=verb, target_id=str(target.pk))


@pytest.fixture
def manual_group(admin) -> Group:
    return Group.objects.create(name="North Avenue Residents")


@pytest.fixture
def smart_group(admin) -> Group:
    return Group.objects.create(
        name="City staff",
        kind=Group.Kind.SMART,
        rules=[{"field": "email_domain", "value": "city.example"}],
    )


# Errors


def test_every_error_has_the_one_shape(admin_client):
    response = post(admin_client, "/api/v1/groups", {"kind": "manual"})

    assert response.status_code == 422
    assert response.json() == {
        "errors": [{"code": "invalid", "message": "Field required", "field": "name"}]
    }


def test_malformed_json_is_a_client_error_in_the_one_shape(admin_client):
    response = admin_client.post("/api/v1/groups", "{not json", content_type=JSON)

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert set(error) == {"code", "message"}
    assert error["message"] == "Cannot parse request body"
    assert not Group.objects.exists()


def test_an_unknown_id_answers_404_in_the_one_shape(admin_client):
    for path in ("/api/v1/users/999999", "/api/v1/groups/999999", "/api/v1/projects/999999"):
        response = admin_client.get(path)

        assert response.status_code == 404
        assert response.json() == {"errors": [{"code": "not_found", "message": "Not found."}]}


# Users


def test_an_admin_lists_users_by_email(admin_client, admin, resident, moderator):
    response = admin_client.get("/api/v1/users")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [u["email"] for u in body["items"]] == [
        "ada.admin@city.example",
        "mo.moderator@mail.example",
        "rita.resident@mail.example",
    ]
    assert body["items"][0] == {
        "id": admin.pk,
        "email": "ada.admin@city.example",
        "first_name": "Ada",
        "last_name": "Admin",
        "language": "en",
        "is_admin": True,
        "is_active": True,
        "email_verified": True,
        "date_joined": body["items"][0]["date_joined"],
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=RITA", ["rita.resident@mail.example"]),
        ("q=moderator", ["mo.moderator@mail.example"]),
        ("q=city.example", ["ada.admin@city.example"]),
        ("q=nobody", []),
        ("role=admin", ["ada.admin@city.example"]),
        ("role=moderator", ["mo.moderator@mail.example"]),
    ],
)
def test_an_admin_searches_users(admin_client, resident, moderator, query, expected):
    response = admin_client.get(f"/api/v1/users?{query}")

    assert [u["email"] for u in response.json()["items"]] == expected
    assert response.json()["count"] == len(expected)


def test_an_admin_pages_through_users(admin_client, admin):
    for number in range(5):
        make_user(f"user{number}@mail.example")

    first = admin_client.get("/api/v1/users?limit=2").json()
    rest = admin_client.get("/api/v1/users?limit=2&offset=2").json()

    assert first["count"] == rest["count"] == 6
    assert [u["email"] for u in first["items"]] == ["ada.admin@city.example", "user0@mail.example"]
    assert [u["email"] for u in rest["items"]] == ["user1@mail.example", "user2@mail.example"]


@pytest.mark.parametrize("offset", ["-1", "99999999999999999999", "9223372036854775808"])
def test_an_impossible_offset_is_refused_not_a_server_error(admin_client, offset):
    for path in ("/api/v1/users", "/api/v1/groups/1/members"):
        response = admin_client.get(f"{path}?offset={offset}")

        assert response.status_code == 422
        assert codes(response) == ["invalid"]
        assert response.json()["errors"][0]["field"] == "offset"  # as in every other error


def test_an_admin_reads_a_user_with_groups_and_moderated_projects(
    admin_client, moderator, manual_group
):
    Membership.objects.create(group=manual_group, user=moderator)
    project = Project.objects.get(title="Moderated project")

    response = admin_client.get(f"/api/v1/users/{moderator.pk}")

    assert response.status_code == 200
    assert response.json()["group_ids"] == [manual_group.pk]
    assert response.json()["moderated_project_ids"] == [project.pk]


def test_an_admin_grants_and_revokes_admin_rights_and_it_is_audited(admin_client, admin, resident):
    granted = patch(admin_client, f"/api/v1/users/{resident.pk}", {"is_admin": True})

    assert granted.status_code == 200
    assert granted.json()["is_admin"] is True
    resident.refresh_from_db()
    assert resident.is_admin
    assert audited("user.admin_granted", resident).actor == admin

    revoked = patch(admin_client, f"/api/v1/users/{resident.pk}", {"is_admin": False})

    assert revoked.json()["is_admin"] is False
    assert audited("user.admin_revoked", resident).actor == admin


def test_granting_rights_a_user_already_has_records_nothing(admin_client, admin, resident):
    patch(admin_client, f"/api/v1/users/{resident.pk}", {"is_admin": False})

    assert not AuditEvent.objects.exists()


def test_an_admin_cannot_remove_their_own_admin_rights(admin_client, admin):
    response = patch(admin_client, f"/api/v1/users/{admin.pk}", {"is_admin": False})

    assert response.status_code == 400
    assert codes(response) == ["cannot_demote_self"]
    admin.refresh_from_db()
    assert admin.is_admin


def test_an_admin_blocks_a_user_who_can_then_no_longer_sign_in(admin_client, admin, resident):
    response = patch(admin_client, f"/api/v1/users/{resident.pk}", {"is_active": False})

    assert response.json()["is_active"] is False
    assert audited("user.blocked", resident).actor == admin
    assert not Client().login(email=resident.email, password="correct horse battery staple")


def test_a_user_patch_with_a_wrong_type_is_refused(admin_client, resident):
    response = patch(admin_client, f"/api/v1/users/{resident.pk}", {"is_admin": "perhaps"})

    assert response.status_code == 422
    assert codes(response) == ["invalid"]
    assert response.json()["errors"][0]["field"] == "is_admin"


# Groups


def test_an_admin_creates_a_manual_group(admin_client, admin):
    response = post(
        admin_client, "/api/v1/groups", {"name": " North Avenue ", "description": "Street"}
    )

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("name", "description", "kind", "rules", "member_count")} == {
        "name": "North Avenue",
        "description": "Street",
        "kind": "manual",
        "rules": [],
        "member_count": 0,
    }
    group = Group.objects.get(pk=body["id"])
    assert audited("group.created", group).actor == admin


def test_an_admin_creates_a_smart_group_whose_members_follow_its_rules(
    admin_client, admin, resident
):
    make_user("clerk@city.example", language="nl-BE")
    make_user("mayor@CITY.example")

    response = post(
        admin_client,
        "/api/v1/groups",
        {
            "name": "City staff",
            "kind": "smart",
            "rules": [{"field": "email_domain", "value": "@City.Example"}],
        },
    )

    assert response.status_code == 201
    assert response.json()["rules"] == [{"field": "email_domain", "value": "city.example"}]
    assert response.json()["member_count"] == 3  # the admin, the clerk and the mayor
    members = admin_client.get(f"/api/v1/groups/{response.json()['id']}/members").json()
    assert [m["email"] for m in members] == [
        "ada.admin@city.example",
        "clerk@city.example",
        "mayor@city.example",
    ]


@pytest.mark.parametrize(
    ("rules", "value"),
    [
        ([{"field": "favourite_colour", "value": "blue"}], "favourite_colour"),
        ([{"field": "email_domain", "value": "not a domain"}], "not a domain"),
        ([{"field": "language", "value": "de"}], "de"),
        ([{"field": "role", "value": "mayor"}], "mayor"),
        ([], None),
    ],
)
def test_an_invalid_smart_rule_is_refused_with_invalid_rule(admin_client, rules, value):
    response = post(
        admin_client, "/api/v1/groups", {"name": "Broken", "kind": "smart", "rules": rules}
    )

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["code"] == "invalid_rule"
    assert error.get("value") == value
    assert not Group.objects.exists()


def test_a_group_name_is_unique_whatever_the_case(admin_client, manual_group):
    response = post(admin_client, "/api/v1/groups", {"name": "north avenue RESIDENTS"})

    assert response.status_code == 409
    assert codes(response) == ["name_taken"]


def test_an_unknown_group_kind_is_refused(admin_client):
    response = post(admin_client, "/api/v1/groups", {"name": "Odd", "kind": "secret"})

    assert response.status_code == 422
    assert codes(response) == ["invalid"]


def test_an_admin_lists_and_searches_groups(admin_client, manual_group, smart_group):
    everything = admin_client.get("/api/v1/groups").json()
    found = admin_client.get("/api/v1/groups?q=north").json()

    assert [g["name"] for g in everything] == ["City staff", "North Avenue Residents"]
    assert [g["name"] for g in found] == ["North Avenue Residents"]


def test_an_admin_adds_and_removes_members_of_a_manual_group(
    admin_client, admin, manual_group, resident, moderator
):
    path = f"/api/v1/groups/{manual_group.pk}/members"

    added = post(admin_client, path, {"user_ids": [resident.pk, moderator.pk]})
    added_again = post(admin_client, path, {"user_ids": [resident.pk]})

    assert added.status_code == 200
    assert added.json() == {"changed": 2}
    assert added_again.json() == {"changed": 0}
    assert [m["email"] for m in admin_client.get(path).json()] == [
        "mo.moderator@mail.example",
        "rita.resident@mail.example",
    ]
    assert AuditEvent.objects.filter(verb="group.member_added").count() == 2

    removed = admin_client.delete(f"{path}/{resident.pk}")
    removed_again = admin_client.delete(f"{path}/{resident.pk}")

    assert removed.json() == {"changed": 1}
    assert removed_again.json() == {"changed": 0}
    assert [m["email"] for m in admin_client.get(path).json()] == ["mo.moderator@mail.example"]
    assert audited("group.member_removed", manual_group).details == {"user": resident.email}


def test_adding_unknown_user_ids_names_them_and_adds_nobody(admin_client, manual_group, resident):
    response = post(
        admin_client,
        f"/api/v1/groups/{manual_group.pk}/members",
        {"user_ids": [resident.pk, 999998, 999999]},
    )

    assert response.status_code == 404
    assert response.json()["errors"][0]["ids"] == [999998, 999999]
    assert not Membership.objects.exists()


def test_members_of_a_smart_group_cannot_be_added_or_removed_by_hand(
    admin_client, smart_group, resident, admin
):
    path = f"/api/v1/groups/{smart_group.pk}/members"

    added = post(admin_client, path, {"user_ids": [resident.pk]})
    removed = admin_client.delete(f"{path}/{admin.pk}")

    for response in (added, removed):
        assert response.status_code == 409
        assert codes(response) == ["smart_group_membership"]
    assert not Membership.objects.exists()


def test_an_admin_renames_a_group_and_changes_smart_rules(admin_client, admin, smart_group):
    response = patch(
        admin_client,
        f"/api/v1/groups/{smart_group.pk}",
        {"name": "Dutch speakers", "rules": [{"field": "language", "value": "NL-be"}]},
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Dutch speakers"
    assert response.json()["rules"] == [{"field": "language", "value": "nl-BE"}]
    assert audited("group.updated", smart_group).actor == admin


def test_an_admin_deletes_a_group_and_its_members_stay(admin_client, admin, manual_group, resident):
    Membership.objects.create(group=manual_group, user=resident)

    response = admin_client.delete(f"/api/v1/groups/{manual_group.pk}")

    assert response.status_code == 204
    assert not Group.objects.exists()
    assert User.objects.filter(pk=resident.pk).exists()
    assert audited("group.deleted", manual_group).details == {"name": "North Avenue Residents"}


# Projects


def test_an_admin_creates_a_project_with_groups_and_moderators(
    admin_client, admin, manual_group, resident
):
    response = post(
        admin_client,
        "/api/v1/projects",
        {
            "title": "Park renovation",
            "description": "Benches",
            "visibility": "groups",
            "group_ids": [manual_group.pk],
            "moderator_ids": [resident.pk],
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert body["group_ids"] == [manual_group.pk]
    assert body["moderator_ids"] == [resident.pk]
    project = Project.objects.get(pk=body["id"])
    assert (project.title, project.visibility) == ("Park renovation", "groups")
    assert audited("project.created", project).actor == admin


def test_a_project_open_to_groups_needs_at_least_one_group(admin_client):
    response = post(admin_client, "/api/v1/projects", {"title": "Hidden", "visibility": "groups"})

    assert response.status_code == 422
    assert codes(response) == ["groups_required"]
    assert response.json()["errors"][0]["field"] == "groups"
    assert not Project.objects.filter(title="Hidden").exists()


def test_a_project_with_unknown_group_ids_is_refused(admin_client):
    response = post(
        admin_client,
        "/api/v1/projects",
        {"title": "Hidden", "visibility": "groups", "group_ids": [424242]},
    )

    assert response.status_code == 404
    assert response.json()["errors"][0]["ids"] == [424242]
    assert not Project.objects.filter(title="Hidden").exists()


def test_a_project_with_an_unknown_visibility_is_refused(admin_client):
    response = post(admin_client, "/api/v1/projects", {"title": "Odd", "visibility": "friends"})

    assert response.status_code == 422
    assert codes(response) == ["invalid"]


def test_an_admin_changes_a_project(admin_client, admin, manual_group):
    project = Project.objects.create(title="Draft")

    response = patch(
        admin_client,
        f"/api/v1/projects/{project.pk}",
        {"title": "Final", "visibility": "groups", "group_ids": [manual_group.pk]},
    )

    assert response.status_code == 200
    assert response.json()["title"] == "Final"
    assert response.json()["group_ids"] == [manual_group.pk]
    assert audited("project.updated", project).actor == admin


def test_changing_a_project_to_groups_without_groups_is_refused(admin_client):
    project = Project.objects.create(title="Open")

    response = patch(admin_client, f"/api/v1/projects/{project.pk}", {"visibility": "groups"})

    assert response.status_code == 422
    assert codes(response) == ["groups_required"]
    project.refresh_from_db()
    assert project.visibility == "everyone"


def test_a_moderator_changes_the_title_of_their_project_but_not_who_sees_it(moderator_client):
    project = Project.objects.get(title="Moderated project")
    path = f"/api/v1/projects/{project.pk}"

    retitled = patch(moderator_client, path, {"title": "Better title"})
    opened = patch(moderator_client, path, {"visibility": "everyone"})

    assert retitled.status_code == 200
    assert retitled.json()["title"] == "Better title"
    assert opened.status_code == 403
    assert codes(opened) == ["permission_denied"]
    project.refresh_from_db()
    assert (project.title, project.visibility) == ("Better title", "admins")


def test_a_moderator_cannot_change_a_project_they_do_not_moderate(moderator_client):
    other = Project.objects.create(title="Someone else's")

    response = patch(moderator_client, f"/api/v1/projects/{other.pk}", {"title": "Mine now"})

    assert response.status_code == 403
    other.refresh_from_db()
    assert other.title == "Someone else's"


def test_an_admin_deletes_a_project(admin_client, admin):
    project = Project.objects.create(title="Old")

    response = admin_client.delete(f"/api/v1/projects/{project.pk}")

    assert response.status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()
    assert audited("project.deleted", project).details == {"title": "Old"}


def test_projects_read_by_each_person_are_the_ones_open_to_them(
    admin_client, resident_client, moderator_client, anonymous_client, manual_group, resident
):
    Project.objects.create(title="Everyone's", visibility=Project.Visibility.EVERYONE)
    Project.objects.create(title="Admins'", visibility=Project.Visibility.ADMINS)
    for_group = Project.objects.create(title="Group's", visibility=Project.Visibility.GROUPS)
    for_group.groups.add(manual_group)
    Membership.objects.create(group=manual_group, user=resident)

    def titles(client: Client) -> list[str]:
        return [p["title"] for p in client.get("/api/v1/projects").json()]

    assert titles(admin_client) == ["Admins'", "Everyone's", "Group's", "Moderated project"]
    assert titles(resident_client) == ["Everyone's", "Group's"]
    assert titles(moderator_client) == ["Everyone's", "Moderated project"]
    assert titles(anonymous_client) == ["Everyone's"]
    assert resident_client.get(f"/api/v1/projects/{for_group.pk}").status_code == 200
    assert moderator_client.get(f"/api/v1/projects/{for_group.pk}").status_code == 404


# Session authentication and CSRF


@pytest.fixture
def browser(admin) -> Client:
    """An admin's browser: signed in, and CSRF checked as in production."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    client.get("/accounts/profile/")  # a page with a form sets the CSRF cookie
    return client


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/groups", {"name": "Made by a page"}),
        ("post", "/api/v1/projects", {"title": "Made by a page"}),
        ("patch", "/api/v1/users/{resident}", {"is_admin": True}),
        ("delete", "/api/v1/groups/{group}", None),
    ],
)
def test_a_session_needs_the_csrf_token_on_unsafe_methods(
    browser, resident, manual_group, method, path, body
):
    path = path.format(resident=resident.pk, group=manual_group.pk)
    send = getattr(browser, method)
    kwargs = {"content_type": JSON} if body is not None else {}

    refused = send(path, body, **kwargs)

    assert refused.status_code == 403
    assert codes(refused) == ["permission_denied"]
    assert not AuditEvent.objects.exists()

    csrf = {"x-csrftoken": browser.cookies["csrftoken"].value}
    accepted = send(path, body, headers=csrf, **kwargs)

    assert accepted.status_code in (200, 201, 204)
    assert AuditEvent.objects.exists()


def test_a_session_reads_without_a_csrf_token(browser):
    assert browser.get("/api/v1/users").status_code == 200


def test_a_session_with_a_wrong_csrf_token_is_refused(browser):
    response = browser.post(
        "/api/v1/groups",
        {"name": "Forged"},
        content_type=JSON,
        headers={"x-csrftoken": "x" * 32},
    )

    assert response.status_code == 403
    assert not Group.objects.exists()


# Schema and docs


def test_the_openapi_schema_is_served_and_describes_the_operations(anonymous_client, db):
    response = anonymous_client.get("/api/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Portico API"
    assert {
        "/api/v1/users",
        "/api/v1/users/{user_id}",
        "/api/v1/groups",
        "/api/v1/groups/{group_id}/members",
        "/api/v1/projects",
        "/api/v1/projects/{project_id}",
    } <= set(schema["paths"])
    assert set(schema["components"]["securitySchemes"]) == {"BearerToken", "SessionAuth"}
    assert schema["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"


def test_the_api_docs_are_served(anonymous_client, db):
    response = anonymous_client.get("/api/docs")

    assert response.status_code == 200
    assert "/api/openapi.json" in response.text

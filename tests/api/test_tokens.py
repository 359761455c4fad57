"""Personal API tokens: how the API authenticates them, how they are stored, and the
admin page that creates and revokes them."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client
from django.utils import timezone

from portico.accounts.models import ApiToken
from portico.accounts.services import api_token_create, api_token_revoke
from portico.core.models import AuditEvent
from tests.conftest import make_user

NOT_AUTHENTICATED = {
    "errors": [{"code": "not_authenticated", "message": "Sign in or send a valid API token."}]
}
PERMISSION_DENIED = {
    "errors": [{"code": "permission_denied", "message": "You do not have permission to do this."}]
}


def api_client() -> Client:
    """An integrator's client: no session, no CSRF token, CSRF checks enforced."""
    return Client(enforce_csrf_checks=True)


def bearer(raw: str) -> dict[str, str]:
    return {"authorization": f"Bearer {raw}"}


@pytest.fixture
def admin_token(admin) -> str:
    return api_token_create(actor=admin, user=admin, name="Admin's script")[1]


@pytest.fixture
def resident_token(admin, resident) -> str:
    return api_token_create(actor=admin, user=resident, name="Rita's script")[1]


# Authentication


def test_it_accepts_a_valid_admin_token(admin_token):
    response = api_client().get("/api/v1/users", headers=bearer(admin_token))

    assert response.status_code == 200
    assert [u["email"] for u in response.json()["items"]] == ["ada.admin@city.example"]


def test_it_accepts_a_valid_token_on_unsafe_methods_without_a_csrf_token(admin_token):
    response = api_client().post(
        "/api/v1/groups",
        {"name": "Made by a script"},
        content_type="application/json",
        headers=bearer(admin_token),
    )

    assert response.status_code == 201


def test_it_records_when_a_token_was_last_used(admin_token):
    assert ApiToken.objects.get().last_used_at is None

    api_client().get("/api/v1/users", headers=bearer(admin_token))

    assert ApiToken.objects.get().last_used_at is not None


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_a_revoked_token(admin, admin_token, method):
    api_token_revoke(actor=admin, token_id=ApiToken.objects.get().pk)

    response = getattr(api_client(), method)(
        "/api/v1/users" if method == "get" else "/api/v1/groups",
        {} if method == "get" else {"name": "Never made"},
        content_type="application/json",
        headers=bearer(admin_token),
    )

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer ptc_this-is-not-a-token",
        "Bearer garbage",
        "Bearer ",
        "Bearer",
        "Basic YWRhOnBhc3N3b3Jk",
        "ptc_no-scheme-at-all",
        "Bearer " + "x" * 5000,
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_a_wrong_or_garbage_token(admin, authorization, method):
    response = getattr(api_client(), method)(
        "/api/v1/users" if method == "get" else "/api/v1/groups",
        {} if method == "get" else {"name": "Never made"},
        content_type="application/json",
        headers={"authorization": authorization},
    )

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


def test_it_refuses_a_token_that_differs_from_a_real_one_by_one_character(admin_token):
    last = admin_token[-1]
    wrong = admin_token[:-1] + ("A" if last != "A" else "B")

    response = api_client().get("/api/v1/users", headers=bearer(wrong))

    assert response.status_code == 401


def test_it_refuses_the_token_of_a_blocked_user(admin, resident, resident_token):
    resident.is_active = False
    resident.save()

    response = api_client().get("/api/v1/projects", headers=bearer(resident_token))

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/users", None),
        ("get", "/api/v1/groups", None),
        ("post", "/api/v1/groups", {"name": "Residents' own"}),
        ("post", "/api/v1/projects", {"title": "Residents' own"}),
    ],
)
def test_it_answers_403_to_the_token_of_a_non_admin_on_admin_operations(
    resident_token, method, path, body
):
    kwargs = {"content_type": "application/json"} if body is not None else {}
    response = getattr(api_client(), method)(
        path, body or {}, headers=bearer(resident_token), **kwargs
    )

    assert response.status_code == 403
    assert response.json() == PERMISSION_DENIED


def test_the_token_of_a_non_admin_acts_with_that_persons_rights(resident_token):
    from portico.projects.models import Project

    Project.objects.create(title="Open to all", visibility=Project.Visibility.EVERYONE)
    Project.objects.create(title="Admins only", visibility=Project.Visibility.ADMINS)

    response = api_client().get("/api/v1/projects", headers=bearer(resident_token))

    assert response.status_code == 200
    assert [p["title"] for p in response.json()] == ["Open to all"]


def test_the_token_of_an_admin_who_lost_the_role_is_refused_on_admin_operations(admin_token, admin):
    admin.is_admin = False
    admin.save()

    response = api_client().get("/api/v1/users", headers=bearer(admin_token))

    assert response.status_code == 403
    assert response.json() == PERMISSION_DENIED


# Storage


def test_a_token_is_stored_only_as_a_hash(admin):
    token, raw = api_token_create(actor=admin, user=admin, name="Stored")

    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert not any(raw in str(value) for value in row.values())
    assert row["token_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(row["prefix"])
    assert len(raw) > len(row["prefix"]) + 30
    for event in AuditEvent.objects.values():
        assert not any(raw in str(value) for value in event.values())


def test_tokens_are_unique_and_unguessable(admin):
    raws = {api_token_create(actor=admin, user=admin, name=f"n{i}")[1] for i in range(20)}

    assert len(raws) == 20
    assert all(raw.startswith("ptc_") and len(raw) >= 40 for raw in raws)


# Through the API


def test_the_api_shows_a_created_token_once_and_lists_it_without_its_secret(admin_client, resident):
    created = admin_client.post(
        f"/api/v1/users/{resident.pk}/tokens", {"name": "Sync"}, content_type="application/json"
    )

    assert created.status_code == 201
    raw = created.json()["token"]
    listed = admin_client.get(f"/api/v1/users/{resident.pk}/tokens").json()
    assert [t["name"] for t in listed] == ["Sync"]
    assert "token" not in listed[0]
    assert raw not in admin_client.get(f"/api/v1/users/{resident.pk}/tokens").text
    assert api_client().get("/api/v1/projects", headers=bearer(raw)).status_code == 200


def test_the_api_revokes_a_token(admin_client, admin, resident, resident_token):
    token = ApiToken.objects.get(user=resident)

    response = admin_client.delete(f"/api/v1/users/{resident.pk}/tokens/{token.pk}")

    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert api_client().get("/api/v1/projects", headers=bearer(resident_token)).status_code == 401
    assert AuditEvent.objects.filter(verb="api_token.revoked", target_id=str(token.pk)).exists()


def test_the_api_does_not_revoke_a_token_through_another_users_path(
    admin_client, admin, resident, resident_token
):
    token = ApiToken.objects.get(user=resident)

    response = admin_client.delete(f"/api/v1/users/{admin.pk}/tokens/{token.pk}")

    assert response.status_code == 404
    assert response.json() == {"errors": [{"code": "not_found", "message": "Not found."}]}
    assert ApiToken.objects.get(pk=token.pk).is_active


def test_a_token_needs_a_name(admin_client, admin):
    response = admin_client.post(
        f"/api/v1/users/{admin.pk}/tokens", {"name": "   "}, content_type="application/json"
    )

    assert response.status_code == 422
    assert response.json() == {
        "errors": [{"code": "invalid", "message": "Give the token a name.", "field": "name"}]
    }
    assert not ApiToken.objects.exists()


# The admin page /manage/api-tokens/


def test_the_admin_page_creates_a_token_and_shows_its_secret_once(admin_client, admin):
    response = admin_client.post("/manage/api-tokens/new/", {"name": "CRM sync", "email": ""})

    assert response.status_code == 302
    assert response["Location"] == "/manage/api-tokens/"
    token = ApiToken.objects.get()
    assert (token.user, token.created_by, token.name) == (admin, admin, "CRM sync")
    page = admin_client.get("/manage/api-tokens/")
    raw = page.context["new_token"]["secret"]
    assert raw in page.text
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    again = admin_client.get("/manage/api-tokens/")
    assert again.context["new_token"] is None
    assert raw not in again.text
    assert token.prefix in again.text
    assert api_client().get("/api/v1/users", headers=bearer(raw)).status_code == 200
    event = AuditEvent.objects.get(verb="api_token.created")
    assert (event.actor, event.target_id) == (admin, str(token.pk))
    assert event.details == {"user": admin.email}


def test_the_admin_page_creates_a_token_for_another_user_by_address(admin_client, resident):
    admin_client.post(
        "/manage/api-tokens/new/", {"name": "Rita's", "email": "RITA.resident@mail.example"}
    )

    assert ApiToken.objects.get().user == resident


def test_the_admin_page_names_an_unknown_owner_and_creates_nothing(admin_client):
    response = admin_client.post(
        "/manage/api-tokens/new/", {"name": "Lost", "email": "nobody@mail.example"}, follow=True
    )

    assert "No account uses this email address." in response.text
    assert not ApiToken.objects.exists()


def test_the_admin_page_revokes_a_token(admin_client, admin, resident, resident_token):
    token = ApiToken.objects.get()

    response = admin_client.post(f"/manage/api-tokens/{token.pk}/revoke/", follow=True)

    assert response.redirect_chain == [("/manage/api-tokens/", 302)]
    assert "Token “Rita&#x27;s script” revoked." in response.text
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert api_client().get("/api/v1/projects", headers=bearer(resident_token)).status_code == 401
    event = AuditEvent.objects.get(verb="api_token.revoked")
    assert (event.actor, event.target_id) == (admin, str(token.pk))
    assert event.details == {"user": resident.email}


def test_revoking_a_revoked_token_changes_nothing(admin_client, admin, resident_token):
    token = ApiToken.objects.get()
    admin_client.post(f"/manage/api-tokens/{token.pk}/revoke/")
    revoked_at = ApiToken.objects.get().revoked_at

    admin_client.post(f"/manage/api-tokens/{token.pk}/revoke/")

    assert ApiToken.objects.get().revoked_at == revoked_at
    assert AuditEvent.objects.filter(verb="api_token.revoked").count() == 1


def test_the_admin_page_says_so_when_the_token_to_revoke_is_unknown(admin_client):
    response = admin_client.post("/manage/api-tokens/999999/revoke/", follow=True)

    assert response.redirect_chain == [("/manage/api-tokens/", 302)]
    assert "No such API token." in response.text
    assert not AuditEvent.objects.filter(verb="api_token.revoked").exists()


def test_a_resident_can_neither_create_nor_revoke_tokens_on_the_page(
    resident_client, admin, resident_token
):
    token = ApiToken.objects.get()

    assert resident_client.post("/manage/api-tokens/new/", {"name": "Mine"}).status_code == 403
    assert resident_client.post(f"/manage/api-tokens/{token.pk}/revoke/").status_code == 403
    assert ApiToken.objects.count() == 1
    assert ApiToken.objects.get().revoked_at is None


def test_the_admin_page_lists_tokens_with_their_state(admin_client, admin):
    api_token_create(actor=admin, user=make_user("bot@city.example"), name="Active one")
    revoked, _raw = api_token_create(actor=admin, user=admin, name="Old one")
    ApiToken.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())

    page = admin_client.get("/manage/api-tokens/")

    assert "Active one" in page.text
    assert "bot@city.example" in page.text
    assert "Old one" in page.text
    assert "Revoked" in page.text

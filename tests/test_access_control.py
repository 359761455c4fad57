"""Who may do what, checked on EVERY admin page and EVERY API operation.

Pages are enumerated from ``portico.web.urls.urlpatterns`` and operations from the
OpenAPI schema, so that a page or an operation added later is checked without anyone
remembering to write its test.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import messages
from django.test import Client
from django.urls import reverse

from portico.accounts.services import api_token_create
from portico.core.api import api
from portico.core.models import AuditEvent, CapturedEmail
from portico.groups.models import Group, Membership
from portico.projects.models import Project
from portico.web.urls import urlpatterns as admin_urlpatterns

UNKNOWN_ID = 999_999
NOT_AUTHENTICATED = {
    "errors": [{"code": "not_authenticated", "message": "Sign in or send a valid API token."}]
}
PERMISSION_DENIED = {
    "errors": [{"code": "permission_denied", "message": "You do not have permission to do this."}]
}


@pytest.fixture
def world(admin, resident, moderator) -> dict[str, Any]:
    """One object of each kind, for the ids in paths."""
    group = Group.objects.create(name="North Avenue Residents")
    Membership.objects.create(group=group, user=resident)
    token, _raw = api_token_create(actor=admin, user=resident, name="Rita's script")
    return {
        "user": resident,
        "group": group,
        # A project everyone sees and nobody in the cast moderates: seeing it gives no
        # right to change it.
        "project": Project.objects.create(title="Park benches", visibility="everyone"),
        "token": token,
        "email": CapturedEmail.objects.create(
            from_email="noreply@portico.localhost",
            to=resident.email,
            subject="Hello",
            body_text="Hello",
            body_html="<p>Hello</p>",
        ),
    }


# Admin pages

# Which object an id in an admin page's path names, by the page's name.
_PAGE_OBJECTS = {
    "user": "user",
    "group": "group",
    "project": "project",
    "api-token": "token",
    "mailbox": "email",
}


def _page_object(page: str, param: str) -> str | None:
    """The kind of object an id names, or None for kinds the fixture does not make (an
    id that names nothing then: refusals must come before any lookup anyway)."""
    if param == "user_pk":
        return "user"
    for prefix, kind in _PAGE_OBJECTS.items():
        if page.startswith(prefix):
            return kind
    return None


ADMIN_PAGES = sorted(
    (pattern.name, sorted(pattern.pattern.converters)) for pattern in admin_urlpatterns
)
PAGE_NAMES = [name for name, _params in ADMIN_PAGES]
PAGES_WITH_IDS = [(name, params) for name, params in ADMIN_PAGES if params]


def page_path(world: dict[str, Any], page: str, params: list[str], **overrides: int) -> str:
    kwargs = {}
    for param in params:
        kind = _page_object(page, param)
        kwargs[param] = world[kind].pk if kind else 1
    kwargs.update(overrides)
    return reverse(f"web:{page}", kwargs=kwargs)


def test_the_admin_pages_are_all_enumerated():
    assert len(PAGE_NAMES) == len(admin_urlpatterns) >= 20
    assert {"users", "user", "groups", "group-remove-member", "api-token-revoke"} <= set(PAGE_NAMES)
    for page in ("user", "group-remove-member", "project-edit", "api-token-revoke", "mailbox"):
        params = dict(ADMIN_PAGES).get(page, [])
        assert all(_page_object(page, param) for param in params), page


@pytest.mark.parametrize(("page", "params"), ADMIN_PAGES, ids=PAGE_NAMES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_visitors_are_sent_to_sign_in_from_every_admin_page(
    world, anonymous_client, page, params, method
):
    path = page_path(world, page, params)

    response = getattr(anonymous_client, method)(path)

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:sign-in") + "?next=" + path


@pytest.mark.parametrize(("page", "params"), ADMIN_PAGES, ids=PAGE_NAMES)
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("persona", ["resident", "moderator"])
def test_residents_and_moderators_get_403_on_every_admin_page(
    world, request, page, params, method, persona
):
    client = request.getfixturevalue(f"{persona}_client")
    changes_before = AuditEvent.objects.count()

    response = getattr(client, method)(page_path(world, page, params))

    assert response.status_code == 403
    assert "403.html" in [t.name for t in response.templates]
    assert AuditEvent.objects.count() == changes_before


@pytest.mark.parametrize(("page", "params"), ADMIN_PAGES, ids=PAGE_NAMES)
def test_admins_open_every_admin_page(world, admin_client, page, params):
    response = admin_client.get(page_path(world, page, params))

    # 405: the page only takes POST (a button's target), which is fine to GET-probe.
    expected = {200, 302, 405}
    if not all(_page_object(page, param) for param in params):
        expected.add(404)  # its id names no object of this fixture
    assert response.status_code in expected


@pytest.mark.parametrize(
    ("page", "params", "param"),
    [(page, params, param) for page, params in PAGES_WITH_IDS for param in params],
    ids=[f"{page}-{param}" for page, params in PAGES_WITH_IDS for param in params],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_ids_in_the_admin_area_give_404(world, admin_client, page, params, param, method):
    path = page_path(world, page, params, **{param: UNKNOWN_ID})
    changes_before = AuditEvent.objects.count()

    response = getattr(admin_client, method)(path, follow=True)

    assert AuditEvent.objects.count() == changes_before
    if method == "get" and response.status_code == 405:
        return  # a POST-only page: the POST variant of this test checks the id
    if method == "post" and response.redirect_chain:
        # A button's target may instead send the admin back to the list, saying why.
        levels = [message.level for message in response.context["messages"]]
        assert levels == [messages.ERROR]
        return
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]


# API operations

SCHEMA = api.get_openapi_schema()
OPERATIONS = sorted(
    (method.upper(), path)
    for path, operations in SCHEMA["paths"].items()
    for method in operations
    if method in {"get", "post", "put", "patch", "delete"}
)

# Operations anyone may call. Adding one here is a decision about who may see what.
# The projects' reads answer anonymous callers with the public projects only.
PUBLIC_READS = {("GET", "/api/v1/projects"), ("GET", "/api/v1/projects/{project_id}")}
# /api/v1/invites/ is where an invitee, not yet a user, looks up and accepts an
# invitation: the token is the credential (tests/invitations covers it). It is the one
# prefix whose operations declare no authentication at all.
PUBLIC_PREFIX = "/api/v1/invites/"
# Operations open to any signed-in caller; the service decides (moderators edit their
# projects). Everything else is for platform admins only.
SIGNED_IN_OPERATIONS = {("PATCH", "/api/v1/projects/{project_id}")}


def _ids(operations: list[tuple[str, str]]) -> list[str]:
    return [f"{method} {path}" for method, path in operations]


def _operation(method: str, path: str) -> dict[str, Any]:
    return SCHEMA["paths"][path][method.lower()]


AUTHENTICATED = [op for op in OPERATIONS if not op[1].startswith(PUBLIC_PREFIX)]
PROTECTED = [op for op in AUTHENTICATED if op not in PUBLIC_READS]
ADMIN_ONLY_WITH_BODY = [
    op for op in PROTECTED if op not in SIGNED_IN_OPERATIONS and "requestBody" in _operation(*op)
]

# Which object an id in an operation's path names, by the parameter's name; other ids
# get 1 (refusals come before any lookup).
_API_OBJECTS = {
    "user_id": "user",
    "group_id": "group",
    "project_id": "project",
    "token_id": "token",
}


def url_for(world: dict[str, Any], method: str, path: str) -> str:
    url = path
    for param in _operation(method, path).get("parameters", []):
        if param["in"] == "path":
            kind = _API_OBJECTS.get(param["name"])
            url = url.replace("{" + param["name"] + "}", str(world[kind].pk) if kind else "1")
    return url


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def example(schema: dict[str, Any]) -> Any:
    """A value that matches ``schema``, every property filled: the request an attacker
    would most like to succeed."""
    schema = _resolve(schema)
    if "anyOf" in schema:
        return example(next(s for s in schema["anyOf"] if s.get("type") != "null"))
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: example(prop) for name, prop in schema.get("properties", {}).items()}
    return {"array": [], "string": "example", "integer": 1, "number": 1, "boolean": True}.get(kind)


def call(client: Client, world: dict[str, Any], method: str, path: str, **extra: Any):
    """Call an operation with its path ids filled with real objects and a valid body."""
    url = url_for(world, method, path)
    content = _operation(method, path).get("requestBody", {}).get("content", {})
    send = getattr(client, method.lower())
    if "application/json" in content:
        body = example(content["application/json"]["schema"])
        return send(url, body, content_type="application/json", **extra)
    if content:  # a form or an upload: send it empty
        return send(url, {}, **extra)
    return send(url, **extra)


def test_the_api_operations_are_all_enumerated():
    assert len(PROTECTED) >= 17
    assert set(OPERATIONS) >= PUBLIC_READS | SIGNED_IN_OPERATIONS
    assert ("GET", "/api/v1/users/{user_id}") in PROTECTED
    assert ("DELETE", "/api/v1/groups/{group_id}") in PROTECTED


def test_only_the_invites_operations_declare_no_authentication():
    # An operation with ``auth=None`` elsewhere would be open to the world unnoticed.
    for method, path in OPERATIONS:
        declares_auth = bool(_operation(method, path).get("security"))
        assert declares_auth != path.startswith(PUBLIC_PREFIX), (method, path)


def test_the_schema_served_is_the_one_enumerated(anonymous_client, db):
    served = anonymous_client.get("/api/openapi.json").json()

    assert (
        sorted((method.upper(), path) for path, ops in served["paths"].items() for method in ops)
        == OPERATIONS
    )


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=_ids(PROTECTED))
def test_anonymous_callers_get_401_on_every_operation(world, method, path):
    # A real caller: no session, and CSRF enforced as in production.
    response = call(Client(enforce_csrf_checks=True), world, method, path)

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


@pytest.mark.parametrize(("method", "path"), AUTHENTICATED, ids=_ids(AUTHENTICATED))
def test_callers_with_a_bad_token_get_401_on_every_operation(world, method, path):
    # Even on public reads: a revoked token must not quietly make its caller anonymous.
    response = call(
        Client(enforce_csrf_checks=True),
        world,
        method,
        path,
        headers={"authorization": "Bearer ptc_revoked-or-mistyped"},
    )

    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=_ids(PROTECTED))
@pytest.mark.parametrize("persona", ["resident", "moderator"])
def test_residents_and_moderators_get_403_on_every_operation(world, request, method, path, persona):
    client = request.getfixturevalue(f"{persona}_client")
    user = request.getfixturevalue(persona)

    response = call(client, world, method, path)

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"
    assert not AuditEvent.objects.filter(actor=user).exists()
    user.refresh_from_db()
    assert not user.is_admin


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=_ids(PROTECTED))
def test_the_token_of_a_resident_gets_403_on_every_operation(world, admin, method, path):
    _token, raw = api_token_create(actor=admin, user=world["user"], name="Probe")

    response = call(
        Client(enforce_csrf_checks=True),
        world,
        method,
        path,
        headers={"authorization": f"Bearer {raw}"},
    )

    assert response.status_code == 403
    assert response.json() == PERMISSION_DENIED


@pytest.mark.parametrize(("method", "path"), ADMIN_ONLY_WITH_BODY, ids=_ids(ADMIN_ONLY_WITH_BODY))
def test_residents_are_refused_before_their_request_body_is_read(
    world, resident_client, method, path
):
    content_type = next(iter(_operation(method, path)["requestBody"]["content"]))

    response = getattr(resident_client, method.lower())(
        url_for(world, method, path), "{this is not json", content_type=content_type
    )

    assert response.status_code == 403
    assert response.json() == PERMISSION_DENIED


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=_ids(PROTECTED))
def test_admins_are_never_refused_nor_answered_with_a_server_error(
    world, admin_client, method, path
):
    response = call(admin_client, world, method, path)

    assert response.status_code not in (401, 403)
    assert response.status_code < 500


# The public reads of /api/v1/projects


@pytest.fixture
def projects(world, resident) -> dict[str, Project]:
    for_group = Project.objects.create(title="North Avenue lights", visibility="groups")
    for_group.groups.add(world["group"])
    return {
        "public": world["project"],
        "for_group": for_group,
        "admins": Project.objects.create(title="Admins' project", visibility="admins"),
        "moderated": Project.objects.get(title="Moderated project"),
    }


def test_anonymous_callers_list_only_public_projects(projects, anonymous_client):
    response = anonymous_client.get("/api/v1/projects")

    assert response.status_code == 200
    assert [p["id"] for p in response.json()] == [projects["public"].pk]


def test_anonymous_callers_read_a_public_project_and_nothing_else(projects, anonymous_client):
    assert anonymous_client.get(f"/api/v1/projects/{projects['public'].pk}").status_code == 200
    for hidden in ("for_group", "admins", "moderated"):
        response = anonymous_client.get(f"/api/v1/projects/{projects[hidden].pk}")

        assert response.status_code == 404
        assert response.json() == {"errors": [{"code": "not_found", "message": "Not found."}]}


def test_residents_list_the_public_projects_and_those_of_their_groups(projects, resident_client):
    response = resident_client.get("/api/v1/projects")

    assert response.status_code == 200
    assert [p["title"] for p in response.json()] == ["North Avenue lights", "Park benches"]
    assert resident_client.get(f"/api/v1/projects/{projects['admins'].pk}").status_code == 404


def test_admins_list_every_project(projects, admin_client):
    response = admin_client.get("/api/v1/projects")

    assert {p["id"] for p in response.json()} == {p.pk for p in projects.values()}

"""``POST /api/v1/invitations/bulk/resend`` and ``/bulk/delete``: a selection (ids) or
everything a filter of the list matches, and the errors of a request that says neither
or both."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from portico.core.api import api
from portico.core.models import AuditEvent
from portico.invitations.models import Invitation, InvitationMessage
from tests.invitations.bulk import make_invitations

URL = "/api/v1/invitations/bulk"


def _post(client: Client, operation: str, body: object):
    return client.post(f"{URL}/{operation}", body, content_type="application/json")


@pytest.fixture
def expired(admin) -> list[Invitation]:
    return make_invitations(4, prefix="expired", inviter=admin, expires_at=timezone.now())


@pytest.fixture
def pending(admin) -> list[Invitation]:
    return make_invitations(3, prefix="pending", inviter=admin)


@pytest.fixture
def accepted(admin) -> list[Invitation]:
    return make_invitations(2, prefix="accepted", inviter=admin, status="accepted")


def test_resending_by_filter_answers_counts_not_a_list(
    admin_client, expired, pending, accepted, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(admin_client, "resend", {"filter": {"q": "e", "status": "expired"}})

    assert response.status_code == 200, response.content
    assert response.json() == {
        "succeeded": 4,
        "failed": 0,
        "results": None,
        "failures": [],
        "emails": 4,
        "up_to_id": expired[-1].pk,
    }
    assert sorted(m.to[0] for m in mail.outbox) == sorted(i.email for i in expired)
    for invitation in expired:
        invitation.refresh_from_db()
        assert invitation.effective_status() == Invitation.Status.PENDING


def test_accepted_invitations_are_counted_per_code(admin_client, pending, accepted):
    response = _post(admin_client, "resend", {"filter": {"all": True}})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["succeeded"], body["failed"], body["emails"]) == (3, 2, 3)
    assert body["failures"] == [
        {
            "code": "invitation_already_accepted",
            "count": 2,
            "message": "2 invitations were not sent again: they have already been accepted.",
        }
    ]
    assert InvitationMessage.objects.count() == 3


def test_deleting_by_filter(admin, admin_client, expired, pending, accepted):
    response = _post(admin_client, "delete", {"filter": {"q": "pending"}})

    assert response.status_code == 200, response.content
    assert response.json() == {
        "succeeded": 3,
        "failed": 0,
        "results": None,
        "failures": [],
        "emails": None,
        "up_to_id": pending[-1].pk,
    }
    assert set(Invitation.objects.all()) == {*expired, *accepted}
    event = AuditEvent.objects.get(verb="invitation.bulk_deleted")
    assert (event.actor, event.details["search"], event.details["succeeded"]) == (
        admin,
        "pending",
        3,
    )
    assert AuditEvent.objects.filter(verb="invitation.deleted").count() == 3


def test_by_ids_each_id_still_reports_its_outcome(admin_client, pending, accepted):
    ids = [pending[0].pk, 987654, accepted[0].pk, pending[0].pk]

    response = _post(admin_client, "resend", {"ids": ids})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["succeeded"], body["failed"], body["emails"]) == (1, 2, None)
    assert [(r["id"], r["ok"], r["code"]) for r in body["results"]] == [
        (pending[0].pk, True, None),
        (987654, False, "not_found"),
        (accepted[0].pk, False, "invitation_already_accepted"),
    ]
    assert [(f["code"], f["count"]) for f in body["failures"]] == [
        ("invitation_already_accepted", 1),
        ("not_found", 1),
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "ids_or_filter_required"),
        ({"ids": None, "filter": None}, "ids_or_filter_required"),
        ({"ids": [1], "filter": {"status": "expired"}}, "ids_or_filter_required"),
        ({"filter": {}}, "empty_filter"),
        ({"filter": {"q": "   ", "status": ""}}, "empty_filter"),
        ({"filter": {"all": False}}, "empty_filter"),
        ({"filter": {"status": "expird", "all": True}}, "invalid"),
        ({"ids": ["one"]}, "invalid"),
    ],
)
@pytest.mark.parametrize("operation", ["resend", "delete"])
def test_a_request_that_names_no_clear_target_changes_nothing(
    admin_client, pending, operation, body, code
):
    response = _post(admin_client, operation, body)

    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["code"] == code
    assert Invitation.objects.count() == len(pending)
    assert InvitationMessage.objects.count() == 0
    assert not AuditEvent.objects.filter(verb__startswith="invitation.").exists()


def test_an_empty_filter_with_all_means_every_invitation(admin_client, pending, accepted):
    response = _post(admin_client, "delete", {"filter": {"all": True}})

    assert response.json()["succeeded"] == 5
    assert not Invitation.objects.exists()


def test_the_contract_is_in_the_openapi_documents():
    schema = api.get_openapi_schema()
    operation = schema["paths"]["/api/v1/invitations/bulk/resend"]["post"]
    assert "ids_or_filter_required" in operation["description"]
    assert '"all": true' in operation["description"]
    filter_in = schema["components"]["schemas"]["InvitationFilterIn"]["properties"]
    assert filter_in["status"]["enum"] == ["", "pending", "accepted", "expired", "undelivered"]
    assert "every invitation" in filter_in["all"]["description"]

"""The invitations API: ``/api/v1/invitations`` (admins) and ``/api/v1/invites`` (public)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from portico.accounts.models import User
from portico.core.models import AuditEvent
from portico.groups.models import Group
from portico.invitations.models import Invitation, InvitationBatch, InvitationMessage
from portico.invitations.services.jobs import invitations_expire
from portico.projects.models import Project
from tests.invitations.bulk import make_invitations

URL = "/api/v1/invitations"
JSON = "application/json"


def _post(client, url, data=None):
    return client.post(url, data if data is not None else {}, content_type=JSON)


def _invite(client, emails, **options):
    return _post(client, URL, {"emails": emails, **options})


def _list(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def _emails(page) -> list[str]:
    return [item["email"] for item in page["items"]]


def _nothing_stored():
    assert Invitation.objects.count() == 0
    assert InvitationBatch.objects.count() == 0
    assert InvitationMessage.objects.count() == 0
    assert not AuditEvent.objects.filter(verb__startswith="invitation.").exists()


@pytest.fixture
def north(db) -> Group:
    return Group.objects.create(name="North Avenue Residents")


# --- Creating ----------------------------------------------------------------------------


def test_inviting_answers_201_with_the_counts(
    admin, admin_client, resident, north, django_capture_on_commit_callbacks
):
    pending = make_invitations(1, prefix="pending", inviter=admin)[0]
    expired = make_invitations(1, prefix="expired", inviter=admin)[0]
    Invitation.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(days=1), status=Invitation.Status.EXPIRED
    )
    emails = [
        "Nina Noord <nina.noord@mail.example>",
        "omar.oak@mail.example",
        resident.email.upper(),  # a registered user: updated, not invited
        pending.email,  # merged into the pending invitation, no second email
        expired.email,  # renewed and sent again
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(
            admin_client,
            emails,
            group_ids=[north.pk],
            language="nl-be",
            message="Welkom <b>buren</b><script>alert(1)</script>",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("invited", "updated", "merged", "renewed", "codes", "emails")} == {
        "invited": 2,
        "updated": 1,
        "merged": 1,
        "renewed": 1,
        "codes": 0,
        "emails": 3,
    }
    assert body["warnings"] == []
    assert InvitationBatch.objects.filter(pk=body["batch_id"]).exists()
    created = Invitation.objects.filter(pk__in=body["invitation_ids"]).order_by("email")
    assert [i.email for i in created] == ["nina.noord@mail.example", "omar.oak@mail.example"]
    nina = created[0]
    assert (nina.first_name, nina.last_name, nina.language) == ("Nina", "Noord", "nl-BE")
    assert nina.message == "Welkom <b>buren</b>"
    assert list(nina.groups.all()) == [north]
    assert north.members.filter(pk=resident.pk).exists()
    assert list(Invitation.objects.get(pk=pending.pk).groups.all()) == [north]
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        ["nina.noord@mail.example", "omar.oak@mail.example", expired.email]
    )


def test_admin_rights_and_moderated_projects_are_carried(admin_client, admin):
    project = Project.objects.create(title="Park renewal")
    response = _invite(
        admin_client,
        ["new.admin@city.example"],
        is_admin=True,
        moderator=True,
        project_ids=[project.pk],
        send_email=False,
    )
    assert response.status_code == 201, response.content
    assert response.json()["emails"] == 0
    invitation = Invitation.objects.get()
    assert invitation.is_admin
    assert list(invitation.moderated_projects.all()) == [project]
    assert invitation.inviter == admin


def test_every_problem_answers_422_with_codes_positions_and_values(admin_client, north):
    response = _invite(
        admin_client,
        [
            "good@mail.example",
            "not an email",
            "dup@mail.example",
            "https://evil.example/x",
            "DUP@mail.example",
            "missing-domain@",
        ],
        language="xx-YY",
        group_ids=[north.pk, 987654],
    )
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    found = {(e["code"], e.get("position"), str(e.get("value"))) for e in errors}
    assert found == {
        ("unknown_locale", None, "xx-YY"),
        ("unknown_group", None, "987654"),
        ("invalid_email", 2, "not an email"),
        ("emails_duplicate", None, "dup@mail.example"),
        ("invalid_email", 4, "https://evil.example/x"),
        ("invalid_email", 6, "missing-domain@"),
    }
    duplicate = next(e for e in errors if e["code"] == "emails_duplicate")
    assert duplicate["positions"] == [3, 5]
    assert next(e for e in errors if e["code"] == "unknown_locale")["field"] == "language"
    assert all(e["message"] for e in errors)
    _nothing_stored()
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("payload", "code", "details"),
    [
        ({"emails": []}, "no_invites_specified", {}),
        ({"emails": ["", "  "]}, "no_invites_specified", {}),
        ({"emails": ["a@mail.example"], "language": "de"}, "unknown_locale", {"value": "de"}),
        ({"emails": ["a@mail.example"], "project_ids": [424242]}, "unknown_project", {}),
        ({"emails": ["a@mail.example"], "moderator": True}, "projects_required", {}),
        ({"emails": ["a@mail.example", "A@Mail.example"]}, "emails_duplicate", {}),
        ({"emails": ["Nina <nina@>"]}, "invalid_email", {"position": 1}),
    ],
)
def test_each_error_code(admin_client, payload, code, details):
    response = _post(admin_client, URL, payload)
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert [e["code"] for e in errors] == [code]
    assert details.items() <= errors[0].items()
    _nothing_stored()


def test_too_many_addresses_answers_max_invites_limit_exceeded(admin_client, settings):
    settings.PORTICO_MAX_INVITES = 2
    response = _invite(admin_client, ["a@mail.example", "b@mail.example", "c@mail.example"])
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["code"], error["limit"], error["count"]) == ("max_invites_limit_exceeded", 2, 3)
    _nothing_stored()


def test_a_malformed_body_answers_422(admin_client):
    response = _post(admin_client, URL, {"emails": "a@mail.example", "is_admin": "perhaps"})
    assert response.status_code == 422
    assert {e["code"] for e in response.json()["errors"]} == {"invalid"}
    _nothing_stored()


# --- Listing -----------------------------------------------------------------------------


def test_search_by_name_or_email(admin_client, admin):
    assert (
        _invite(
            admin_client,
            [
                "Nina Noord <nina@north.example>",
                "Omar Oak <omar@oak.example>",
                "Pia Noordhoek <pia@park.example>",
            ],
        ).status_code
        == 201
    )
    assert sorted(_emails(_list(admin_client, q="noord"))) == [
        "nina@north.example",
        "pia@park.example",
    ]
    assert _emails(_list(admin_client, q="OAK.example")) == ["omar@oak.example"]
    assert _emails(_list(admin_client, q="nina noord")) == ["nina@north.example"]
    assert _emails(_list(admin_client, q="Omar")) == ["omar@oak.example"]
    page = _list(admin_client, q="nobody")
    assert (page["count"], page["items"]) == (0, [])


def test_status_filter_follows_the_clock(admin, admin_client, anonymous_client):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _invite(admin_client, ["old1@mail.example", "old2@mail.example", "taken@mail.example"])
        taken = Invitation.objects.get(email="taken@mail.example")
        accepted = _post(
            anonymous_client,
            f"/api/v1/invites/{taken.token}/accept",
            {"first_name": "Tia", "last_name": "Taken", "password": "a long enough passphrase"},
        )
        assert accepted.status_code == 201, accepted.content
    with time_machine.travel(start + timedelta(days=20), tick=False):
        admin_client.force_login(admin)  # a session lasts two weeks
        _invite(admin_client, ["fresh@mail.example"])
        assert sorted(_emails(_list(admin_client, status="pending"))) == [
            "fresh@mail.example",
            "old1@mail.example",
            "old2@mail.example",
        ]
        assert _emails(_list(admin_client, status="expired")) == []
    with time_machine.travel(start + timedelta(days=31), tick=False):
        admin_client.force_login(admin)
        # Past their expiry, before and after the expiry sweep has marked them.
        for _sweep in range(2):
            assert _emails(_list(admin_client, status="pending")) == ["fresh@mail.example"]
            expired = _list(admin_client, status="expired")
            assert sorted(_emails(expired)) == ["old1@mail.example", "old2@mail.example"]
            assert {i["status"] for i in expired["items"]} == {"expired"}
            assert _emails(_list(admin_client, status="accepted")) == ["taken@mail.example"]
            assert _list(admin_client)["count"] == 4
            invitations_expire(now=timezone.now())


def test_an_unknown_status_filter_is_refused(admin_client):
    _invite(admin_client, ["one@mail.example"])
    response = admin_client.get(URL, {"status": "bogus", "include_tokens": "true"})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["code"], error["value"]) == ("unknown_status", "bogus")


def test_the_list_page_shows_every_status_for_an_unknown_one(admin_client):
    _invite(admin_client, ["one@mail.example"])
    response = admin_client.get("/manage/invitations/", {"status": "bogus"})
    assert response.status_code == 200
    assert "one@mail.example" in response.content.decode()


def test_sort_by_email_name_date_and_status(admin, admin_client):
    people = make_invitations(4, inviter=admin)  # sent one minute apart, 0 first
    # Emails, names and dates in different orders.
    renames = [
        ("d@mail.example", "Anna", "Zeeman"),
        ("a@mail.example", "Bert", "Young"),
        ("c@mail.example", "Cleo", "Adams"),
        ("b@mail.example", "Dirk", "Baker"),
    ]
    for invitation, (email, first, last) in zip(people, renames, strict=True):
        Invitation.objects.filter(pk=invitation.pk).update(
            email=email, first_name=first, last_name=last
        )
    Invitation.objects.filter(email="c@mail.example").update(status=Invitation.Status.ACCEPTED)
    Invitation.objects.filter(email="a@mail.example").update(
        status=Invitation.Status.EXPIRED, expires_at=timezone.now() - timedelta(days=1)
    )

    def order(sort):
        return _emails(_list(admin_client, sort=sort))

    assert order("email") == [
        "a@mail.example",
        "b@mail.example",
        "c@mail.example",
        "d@mail.example",
    ]
    assert order("-email") == list(reversed(order("email")))
    assert order("name") == ["c@mail.example", "b@mail.example", "a@mail.example", "d@mail.example"]
    assert order("-name") == list(reversed(order("name")))
    assert order("date") == ["d@mail.example", "a@mail.example", "c@mail.example", "b@mail.example"]
    assert order("-date") == list(reversed(order("date")))
    assert order("-date") == order("")  # the default: newest first
    assert order("nonsense") == order("-date")
    statuses = [i["status"] for i in _list(admin_client, sort="status")["items"]]
    assert statuses == ["accepted", "expired", "pending", "pending"]
    statuses = [i["status"] for i in _list(admin_client, sort="-status")["items"]]
    assert statuses == ["pending", "pending", "expired", "accepted"]


def test_pagination(admin, admin_client):
    make_invitations(120, inviter=admin)
    first = _list(admin_client, page_size=50, sort="email")
    assert (first["count"], first["page"], first["page_size"]) == (120, 1, 50)
    assert len(first["items"]) == 50
    third = _list(admin_client, page_size=50, page=3, sort="email")
    assert (third["count"], third["page"], len(third["items"])) == (120, 3, 20)
    assert third["items"][0]["email"] == "person00100@mail.example"
    assert third["items"][-1]["email"] == "person00119@mail.example"
    everything = [
        e
        for n in (1, 2, 3)
        for e in _emails(_list(admin_client, page_size=50, page=n, sort="email"))
    ]
    assert len(set(everything)) == 120
    assert _list(admin_client, page_size=50, page=4)["items"] == []
    assert _list(admin_client)["page_size"] == 50  # the default
    assert len(_list(admin_client, page_size=100_000)["items"]) == 120  # capped at 500
    assert _list(admin_client, page_size=1000)["page_size"] == 500
    assert _list(admin_client, page=0)["page"] == 1


def test_admins_see_tokens_and_details(admin, admin_client, north):
    _invite(admin_client, ["Nina Noord <nina@mail.example>"], group_ids=[north.pk])
    invitation = Invitation.objects.get()
    (item,) = _list(admin_client)["items"]
    assert item["token"] is None  # working tokens only on request, and audited
    (item,) = _list(admin_client, include_tokens="true")["items"]
    assert item["token"] == invitation.token_display
    assert AuditEvent.objects.filter(verb="invitation.tokens_listed", actor=admin).count() == 1
    assert item["group_ids"] == [north.pk]
    assert item["inviter"] == admin.email
    assert item["status"] == "pending"
    detail = admin_client.get(f"{URL}/{invitation.pk}", {"include_tokens": "true"})
    assert detail.status_code == 200
    assert detail.json()["token"] == invitation.token_display
    assert AuditEvent.objects.filter(verb="invitation.tokens_listed", actor=admin).count() == 2
    assert admin_client.get(f"{URL}/987654").status_code == 404


def test_an_api_token_of_an_admin_works_and_of_a_resident_does_not(admin, resident, client):
    from portico.accounts.services import api_token_create

    _token, admin_secret = api_token_create(actor=admin, user=admin, name="CRM sync")
    _token, resident_secret = api_token_create(actor=admin, user=resident, name="mine")
    make_invitations(1, inviter=admin)
    response = client.get(
        URL, {"include_tokens": "true"}, headers={"Authorization": f"Bearer {admin_secret}"}
    )
    assert response.status_code == 200
    assert response.json()["items"][0]["token"]
    response = client.get(URL, headers={"Authorization": f"Bearer {resident_secret}"})
    assert response.status_code == 403
    assert "token" not in response.content.decode().replace("permission", "")


# --- Resend and delete ------------------------------------------------------------------


def test_resend_keeps_the_token_and_restarts_the_lifetime(
    admin, admin_client, django_capture_on_commit_callbacks
):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        (invitation,) = make_invitations(1, inviter=admin, start=start)
    with time_machine.travel(start + timedelta(days=40), tick=False):
        admin_client.force_login(admin)  # a session lasts two weeks
        with django_capture_on_commit_callbacks(execute=True):
            response = _post(admin_client, f"{URL}/{invitation.pk}/resend")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["status"] == "pending"
        token = invitation.token
        invitation.refresh_from_db()
        assert invitation.token == token
        assert invitation.expires_at == timezone.now() + timedelta(days=30)
        assert invitation.reminder_sent_at is None
        assert [m.to for m in mail.outbox] == [[invitation.email]]
        assert invitation.token in mail.outbox[0].body
        assert AuditEvent.objects.filter(verb="invitation.resent", actor=admin).count() == 1


def test_resend_errors(admin, admin_client):
    (invitation,) = make_invitations(1, inviter=admin, status=Invitation.Status.ACCEPTED)
    response = _post(admin_client, f"{URL}/{invitation.pk}/resend")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "invitation_already_accepted"
    response = _post(admin_client, f"{URL}/987654/resend")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"
    assert InvitationMessage.objects.count() == 0


def test_delete(admin, admin_client, north):
    first, second = make_invitations(2, inviter=admin)
    first.groups.add(north)
    response = admin_client.delete(f"{URL}/{first.pk}")
    assert response.status_code == 204
    assert list(Invitation.objects.all()) == [second]
    assert AuditEvent.objects.filter(verb="invitation.deleted", target_id=str(first.pk)).exists()
    # The address is free to be invited again.
    assert _invite(admin_client, [first.email]).json()["invited"] == 1

    response = admin_client.delete(f"{URL}/{first.pk}")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


def test_bulk_resend_names_the_unknown_id_and_processes_the_others(
    admin, admin_client, django_capture_on_commit_callbacks
):
    invitations = make_invitations(3, inviter=admin)
    ids = [invitations[0].pk, 987654, invitations[1].pk, invitations[2].pk]
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(admin_client, f"{URL}/bulk/resend", {"ids": ids})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["succeeded"], body["failed"]) == (3, 1)
    assert [r["id"] for r in body["results"]] == ids
    unknown = next(r for r in body["results"] if r["id"] == 987654)
    assert (unknown["ok"], unknown["code"]) == (False, "not_found")
    assert all(r["ok"] for r in body["results"] if r["id"] != 987654)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(i.email for i in invitations)


def test_bulk_delete_names_the_unknown_id_and_processes_the_others(admin, admin_client):
    invitations = make_invitations(3, inviter=admin)
    keep = make_invitations(1, prefix="keep", inviter=admin)
    ids = [987654, *(i.pk for i in invitations)]
    response = _post(admin_client, f"{URL}/bulk/delete", {"ids": ids})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["succeeded"], body["failed"]) == (3, 1)
    assert body["results"][0] == {
        "id": 987654,
        "ok": False,
        "code": "not_found",
        "message": body["results"][0]["message"],
    }
    assert list(Invitation.objects.all()) == keep


# --- Who may -----------------------------------------------------------------------------


def _admin_operations(invitation_id: int):
    return [
        ("post", URL, {"emails": ["x@mail.example"]}),
        ("get", URL, None),
        ("get", f"{URL}/{invitation_id}", None),
        ("delete", f"{URL}/{invitation_id}", None),
        ("post", f"{URL}/{invitation_id}/resend", {}),
        ("post", f"{URL}/bulk/resend", {"ids": [invitation_id]}),
        ("post", f"{URL}/bulk/delete", {"ids": [invitation_id]}),
    ]


def _call(client, method, url, data):
    if method == "get":
        return client.get(url)
    if method == "delete":
        return client.delete(url)
    return _post(client, url, data)


@pytest.mark.parametrize("who", ["resident", "moderator", "anonymous"])
def test_only_admins_may_manage_invitations(
    who, admin, resident_client, moderator_client, anonymous_client
):
    client = {
        "resident": resident_client,
        "moderator": moderator_client,
        "anonymous": anonymous_client,
    }[who]
    expected = 401 if who == "anonymous" else 403
    code = "not_authenticated" if who == "anonymous" else "permission_denied"
    (invitation,) = make_invitations(1, inviter=admin)
    for method, url, data in _admin_operations(invitation.pk):
        response = _call(client, method, url, data)
        assert response.status_code == expected, (method, url, response.content)
        assert response.json()["errors"][0]["code"] == code
        assert invitation.token not in response.content.decode()
    assert list(Invitation.objects.all()) == [invitation]
    assert InvitationMessage.objects.count() == 0


# --- The invitee -------------------------------------------------------------------------


def test_looking_up_a_token_is_public_and_changes_nothing(admin, anonymous_client):
    (invitation,) = make_invitations(1, inviter=admin)
    before = Invitation.objects.values().get()
    audit_before = AuditEvent.objects.count()
    for form in (invitation.token, invitation.token_display.lower(), invitation.token_display):
        response = anonymous_client.get(f"/api/v1/invites/{form}")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["email"] == invitation.email
        assert body["first_name"] == invitation.first_name
        assert body["inviter"] == admin.display_name
        assert body["email_required"] is False
        assert "token" not in body
    assert Invitation.objects.values().get() == before
    assert AuditEvent.objects.count() == audit_before
    assert not User.objects.filter(email=invitation.email).exists()


def test_looking_up_a_bad_token(admin, anonymous_client):
    (invitation,) = make_invitations(1, inviter=admin)
    token = invitation.token
    typo = token[:3] + ("X" if token[3] != "X" else "Y") + token[4:]
    other = make_invitations(1, prefix="gone", inviter=admin)[0]
    unknown = other.token
    other.delete()
    cases = [(typo, 422, "token_mistyped"), (unknown, 404, "token_not_found")]
    for raw, status, code in cases:
        response = anonymous_client.get(f"/api/v1/invites/{raw}")
        assert response.status_code == status
        assert response.json()["errors"][0]["code"] == code
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    response = anonymous_client.get(f"/api/v1/invites/{token}")
    assert (response.status_code, response.json()["errors"][0]["code"]) == (
        410,
        "invitation_expired",
    )


def test_accepting_creates_the_account(admin, admin_client, anonymous_client, north):
    _invite(admin_client, ["nina@mail.example"], is_admin=True, group_ids=[north.pk])
    invitation = Invitation.objects.get()
    payload = {"first_name": "Nina", "last_name": "Noord", "password": "a long enough passphrase"}
    response = _post(
        anonymous_client, f"/api/v1/invites/{invitation.token_display}/accept", payload
    )
    assert response.status_code == 201, response.content
    body = response.json()
    user = User.objects.get(pk=body["user_id"])
    assert body == {"user_id": user.pk, "email": "nina@mail.example", "is_admin": True}
    assert user.email_verified_at is not None
    assert north.members.filter(pk=user.pk).exists()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    assert invitation.accepted_user == user

    again = _post(anonymous_client, f"/api/v1/invites/{invitation.token}/accept", payload)
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "invitation_already_accepted"
    assert User.objects.filter(email="nina@mail.example").count() == 1


def test_accepting_a_code_asks_for_the_address(admin, anonymous_client):
    (code,) = make_invitations(1, inviter=admin, email=None, send_email=False)
    assert anonymous_client.get(f"/api/v1/invites/{code.token}").json()["email_required"]
    payload = {"first_name": "Lea", "last_name": "Letter", "password": "a long enough passphrase"}
    response = _post(anonymous_client, f"/api/v1/invites/{code.token}/accept", payload)
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "invalid_email"
    response = _post(
        anonymous_client,
        f"/api/v1/invites/{code.token}/accept",
        {**payload, "email": "Lea@Mail.example"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["email"] == "Lea@mail.example"  # the domain is normalised


def test_a_smart_group_is_accepted_with_a_warning(admin_client):
    smart = Group.objects.create(
        name="City staff",
        kind=Group.Kind.SMART,
        rules=[{"field": "email_domain", "value": "city.example"}],
    )
    response = _invite(admin_client, ["a@mail.example", "b@mail.example"], group_ids=[smart.pk])
    assert response.status_code == 201, response.content
    warnings = response.json()["warnings"]
    assert [(w["code"], w["value"], w["positions"], w["count"]) for w in warnings] == [
        ("smart_group", "City staff", [1, 2], 2)
    ]
    assert "City staff" in warnings[0]["message"]
    (invitation, _other) = Invitation.objects.all()
    assert list(invitation.groups.all()) == [smart]


def test_deleting_an_accepted_invitation_keeps_the_account(admin, admin_client, anonymous_client):
    _invite(admin_client, ["nina@mail.example"])
    invitation = Invitation.objects.get()
    payload = {"first_name": "Nina", "last_name": "Noord", "password": "a long enough passphrase"}
    assert (
        _post(anonymous_client, f"/api/v1/invites/{invitation.token}/accept", payload).status_code
        == 201
    )
    assert admin_client.delete(f"{URL}/{invitation.pk}").status_code == 204
    assert not Invitation.objects.exists()
    assert User.objects.filter(email="nina@mail.example", is_active=True).exists()


def test_looking_up_tokens_is_rate_limited(admin, anonymous_client, settings):
    settings.PORTICO_RATE_LIMITS = {**settings.PORTICO_RATE_LIMITS, "token_lookup": "2/m"}
    (invitation,) = make_invitations(1, inviter=admin)
    url = f"/api/v1/invites/{invitation.token}"
    assert [anonymous_client.get(url).status_code for _i in range(2)] == [200, 200]
    response = anonymous_client.get(url)
    assert response.status_code == 429
    assert response.json()["errors"][0]["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    accept = _post(
        anonymous_client, f"{url}/accept", {"first_name": "A", "last_name": "B", "password": "x"}
    )
    assert accept.status_code == 429
    assert not User.objects.filter(email=invitation.email).exists()

"""Letters through the API: ``POST /api/v1/invitations/letters`` queues a print drawn by
the worker, ``GET /letters/{id}`` follows it, ``GET /letters/{id}.pdf`` downloads it
(audited); ``GET /letters.pdf`` still draws a small selection in the request. Errors as
stable codes, 403 for everyone but admins, 401 without credentials."""

from __future__ import annotations

import tracemalloc

import pytest
from django.core.files.storage import default_storage
from django.test import Client, TestCase

from portico.core.models import AuditEvent
from portico.invitations.models import InvitationImport, LetterPrint
from tests.invitations.printing import accept, code_on, codes_of, finished_codes_import, pdf_of
from tests.invitations.sheet_files import API

pytestmark = pytest.mark.django_db

LETTERS = f"{API}/letters.pdf"
PRINTS = f"{API}/letters"


def errors_of(response, status: int) -> list[dict]:
    assert response.status_code == status, response.content
    return response.json()["errors"]


@pytest.fixture
def codes_import(admin_client) -> InvitationImport:
    return finished_codes_import(admin_client)


def start(client: Client, **body) -> dict:
    """The admin's ``POST /letters``, answered 202 while the print is queued; the worker
    draws it once the request is committed (the task runs inline)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(PRINTS, body, content_type="application/json")
    assert response.status_code == 202, response.content
    return response.json()


# --- Letters drawn in the request ----------------------------------------------------------


def test_the_api_serves_a_batchs_letters_as_a_pdf_attachment(admin_client, codes_import):
    pages = pdf_of(admin_client.get(LETTERS, {"batch": codes_import.batch_id}))

    assert [code_on(p) for p in pages] == [i.token_display for i in codes_of(codes_import)]
    assert "Beste Zoë," in pages[0].strings
    assert "Bonjour," in pages[1].strings
    assert "Hello Ann," in pages[2].strings


def test_the_api_prints_a_selection_of_ids(admin_client, codes_import):
    first, _second, third = codes_of(codes_import)

    pages = pdf_of(admin_client.get(LETTERS, {"ids": [third.pk, first.pk]}))

    assert [code_on(p) for p in pages] == [
        first.token_display,
        third.token_display,
    ]


def test_the_api_answers_letter_errors_with_stable_codes(admin_client, codes_import, settings):
    first, *_rest = codes_of(codes_import)
    accept(first, "zoe@x.example")

    (error,) = errors_of(admin_client.get(LETTERS, {"ids": [first.pk]}), 422)
    assert error["code"] == "no_letters"
    (error,) = errors_of(admin_client.get(LETTERS), 422)
    assert error["code"] == "invalid"
    (error,) = errors_of(admin_client.get(LETTERS, {"batch": 999_999}), 404)
    assert error["code"] == "not_found"
    settings.PORTICO_MAX_LETTERS_IN_REQUEST = 1
    (error,) = errors_of(admin_client.get(LETTERS, {"batch": codes_import.batch_id}), 422)
    assert (error["code"], error["limit"], error["count"]) == ("too_many_letters", 1, 2)


def test_the_api_prints_a_large_batch_part_by_part(admin_client, codes_import, settings):
    settings.PORTICO_MAX_LETTERS_IN_REQUEST = 2
    batch = codes_import.batch_id

    too_many = errors_of(admin_client.get(LETTERS, {"batch": batch}), 422)
    assert [(e["code"], e["count"], e["parts"]) for e in too_many] == [("too_many_letters", 3, 2)]
    assert len(pdf_of(admin_client.get(LETTERS, {"batch": batch, "part": 1}))) == 2
    assert len(pdf_of(admin_client.get(LETTERS, {"batch": batch, "part": 2}))) == 1
    past_the_end = errors_of(admin_client.get(LETTERS, {"batch": batch, "part": 3}), 422)
    assert [e["code"] for e in past_the_end] == ["no_letters"]
    assert [
        e["code"] for e in errors_of(admin_client.get(LETTERS, {"batch": batch, "part": 0}), 422)
    ] == ["invalid"]


def test_the_letters_route_leaves_an_invitations_own_route_alone(admin_client, codes_import):
    first, *_rest = codes_of(codes_import)

    response = admin_client.get(f"{API}/{first.pk}")

    assert response.status_code == 200
    assert response.json()["id"] == first.pk


def test_only_admins_print_letters_through_the_api(
    resident_client, moderator_client, anonymous_client, codes_import
):
    for client in (resident_client, moderator_client):
        (error,) = errors_of(client.get(LETTERS, {"batch": codes_import.batch_id}), 403)
        assert error["code"] == "permission_denied"
    (error,) = errors_of(anonymous_client.get(LETTERS, {"batch": codes_import.batch_id}), 401)
    assert error["code"] == "not_authenticated"


def test_the_api_describes_the_pdf_in_its_schema(admin_client):
    schema = admin_client.get("/api/openapi.json").json()

    operation = schema["paths"][LETTERS]["get"]
    assert "application/pdf" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} == {"batch", "ids", "part"}


# --- Prints drawn by the worker ------------------------------------------------------------


def test_a_print_is_accepted_queued_then_followed_until_its_download(admin_client, codes_import):
    accepted = start(admin_client, batch=codes_import.batch_id)

    assert accepted["status"] == "queued"  # answered before the worker draws it
    assert (accepted["total"], accepted["drawn"], accepted["download_url"]) == (3, 0, None)
    assert accepted["batch"] == codes_import.batch_id
    followed = admin_client.get(f"{PRINTS}/{accepted['id']}").json()
    assert (followed["status"], followed["total"], followed["drawn"]) == ("done", 3, 3)
    assert followed["download_url"] == f"{PRINTS}/{accepted['id']}.pdf"
    assert followed["available_until"] is not None

    pages = pdf_of(admin_client.get(followed["download_url"]))

    assert [code_on(p) for p in pages] == [i.token_display for i in codes_of(codes_import)]
    assert "Beste Zoë," in pages[0].strings
    (downloaded,) = AuditEvent.objects.filter(verb="invitation.letters_downloaded")
    assert downloaded.target_id == str(accepted["id"])


def test_a_print_of_ids_counts_the_ids_it_names(admin_client, codes_import):
    first, _second, third = codes_of(codes_import)

    accepted = start(admin_client, ids=[third.pk, first.pk])

    assert (accepted["total"], accepted["ids_count"], accepted["batch"]) == (2, 2, None)
    pages = pdf_of(admin_client.get(f"{PRINTS}/{accepted['id']}.pdf"))
    assert [code_on(p) for p in pages] == [first.token_display, third.token_display]


def test_ids_no_invitation_can_have_select_nothing(admin_client, codes_import):
    first, *_rest = codes_of(codes_import)
    beyond = [2**70, -(2**70)]  # past what a database id holds, either way

    accepted = start(admin_client, ids=[*beyond, first.pk])

    assert (accepted["total"], accepted["ids_count"]) == (1, 1)
    assert [code_on(p) for p in pdf_of(admin_client.get(f"{PRINTS}/{accepted['id']}.pdf"))] == [
        first.token_display
    ]
    response = admin_client.post(PRINTS, {"ids": beyond}, content_type="application/json")
    assert [e["code"] for e in errors_of(response, 422)] == ["no_letters"]
    pages = pdf_of(admin_client.get(LETTERS, {"ids": [*beyond, first.pk]}))
    assert [code_on(p) for p in pages] == [first.token_display]
    assert [e["code"] for e in errors_of(admin_client.get(LETTERS, {"ids": beyond}), 422)] == [
        "no_letters"
    ]


def test_starting_a_print_answers_errors_with_stable_codes(admin_client, codes_import, settings):
    first, *_rest = codes_of(codes_import)
    accept(first, "zoe@x.example")

    def post(body) -> list[dict]:
        return admin_client.post(PRINTS, body, content_type="application/json")

    assert [e["code"] for e in errors_of(post({}), 422)] == ["invalid"]
    assert [e["code"] for e in errors_of(post({"batch": 999_999}), 404)] == ["not_found"]
    assert [e["code"] for e in errors_of(post({"ids": [first.pk]}), 422)] == ["no_letters"]
    (error,) = errors_of(post({"ids": ["one"]}), 422)
    assert (error["code"], error["field"]) == ("invalid", "ids.0")
    settings.PORTICO_MAX_LETTERS = 1
    (error,) = errors_of(post({"batch": codes_import.batch_id}), 422)
    assert (error["code"], error["limit"], error["count"]) == ("too_many_letters", 1, 2)
    assert not LetterPrint.objects.exists()


def test_a_print_answers_while_not_ready_and_once_deleted(admin_client, codes_import):
    with TestCase.captureOnCommitCallbacks(execute=False):  # the worker has not started
        response = admin_client.post(
            PRINTS, {"batch": codes_import.batch_id}, content_type="application/json"
        )
    pdf = f"{PRINTS}/{response.json()['id']}.pdf"

    (error,) = errors_of(admin_client.get(pdf), 409)
    assert (error["code"], error["print_status"]) == ("letters_not_ready", "queued")

    letter_print = LetterPrint.objects.get()
    name = "letters/gone.pdf"
    LetterPrint.objects.filter(pk=letter_print.pk).update(status="done", file=name)
    (error,) = errors_of(admin_client.get(pdf), 410)
    assert error["code"] == "letters_deleted"
    assert not default_storage.exists(name)
    assert [e["code"] for e in errors_of(admin_client.get(f"{PRINTS}/999999"), 404)] == [
        "not_found"
    ]
    assert [e["code"] for e in errors_of(admin_client.get(f"{PRINTS}/999999.pdf"), 404)] == [
        "not_found"
    ]


def test_the_recent_prints_are_listed_newest_first(admin_client, codes_import):
    older = start(admin_client, batch=codes_import.batch_id)
    newer = start(admin_client, ids=[codes_of(codes_import)[0].pk])

    listed = admin_client.get(PRINTS).json()

    assert [p["id"] for p in listed] == [newer["id"], older["id"]]
    assert [p["id"] for p in admin_client.get(PRINTS, {"limit": 1}).json()] == [newer["id"]]


def test_the_prints_are_listed_without_reading_the_ids_they_select(admin, admin_client):
    # A print of ids keeps them all, up to PORTICO_MAX_LETTERS (100,000): about 4 MB in
    # memory once read, 800 MB for the 200 prints a list may hold. It says how many.
    ids = list(range(1, 100_001))
    prints = LetterPrint.objects.bulk_create(
        [LetterPrint(actor=admin, ids=ids, total=0, status="failed") for _ in range(10)]
    )

    for url in (PRINTS, f"{PRINTS}/{prints[0].pk}"):
        admin_client.get(url)  # a process's first request builds the API's schemas
        tracemalloc.start()
        try:
            response = admin_client.get(url)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

        assert response.status_code == 200
        assert peak < 2_000_000, (url, peak)
    listed = admin_client.get(PRINTS).json()
    assert [p["ids_count"] for p in listed] == [100_000] * 10
    assert admin_client.get(f"{PRINTS}/{prints[0].pk}").json()["ids_count"] == 100_000


def test_only_admins_use_prints_through_the_api(
    admin_client, resident_client, moderator_client, anonymous_client, codes_import
):
    done = start(admin_client, batch=codes_import.batch_id)
    calls = [
        lambda c: c.post(PRINTS, {"batch": codes_import.batch_id}, content_type="application/json"),
        lambda c: c.get(PRINTS),
        lambda c: c.get(f"{PRINTS}/{done['id']}"),
        lambda c: c.get(f"{PRINTS}/{done['id']}.pdf"),
    ]
    for call in calls:
        for client in (resident_client, moderator_client):
            assert [e["code"] for e in errors_of(call(client), 403)] == ["permission_denied"]
        assert [e["code"] for e in errors_of(call(anonymous_client), 401)] == ["not_authenticated"]
    assert LetterPrint.objects.count() == 1
    assert AuditEvent.objects.filter(verb="invitation.letters_downloaded").count() == 0


def test_starting_a_print_from_a_browser_session_needs_the_csrf_token(admin, codes_import):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)

    response = client.post(
        PRINTS, {"batch": codes_import.batch_id}, content_type="application/json"
    )

    assert response.status_code == 403
    assert not LetterPrint.objects.exists()


def test_the_api_describes_prints_in_its_schema(admin_client):
    paths = admin_client.get("/api/openapi.json").json()["paths"]

    assert set(paths[PRINTS]) == {"get", "post"}
    assert "202" in paths[PRINTS]["post"]["responses"]
    assert set(paths[f"{PRINTS}/{{print_id}}"]) == {"get"}
    download = paths[f"{PRINTS}/{{print_id}}.pdf"]["get"]
    assert "application/pdf" in download["responses"]["200"]["content"]
    assert "PORTICO_MAX_LETTERS_IN_REQUEST" in paths[LETTERS]["get"]["description"]

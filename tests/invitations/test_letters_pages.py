"""Printing letters from the API (``GET /api/v1/invitations/letters.pdf``) and the admin
pages (an import's "Print letters (PDF)" button, the list's bulk "Print letters"):
a PDF attachment for admins, errors as stable codes or as messages on the page the
admin came from, 403 for everyone else, CSRF on the list's POST."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from portico.invitations.models import Invitation, InvitationImport
from portico.invitations.services.accept import invitation_accept
from tests.conftest import PASSWORD
from tests.invitations.pdf import Page, pdf_pages
from tests.invitations.sheet_files import API, HEADER, checked, confirm, csv_bytes

pytestmark = pytest.mark.django_db

LETTERS = f"{API}/letters.pdf"
CODE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}")


def pdf_of(response) -> list[Page]:
    """The pages of a letters download, after checking that it is one."""
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/pdf"
    assert re.fullmatch(
        r'attachment; filename="letters-\d{8}-\d{4}\.pdf"', response["Content-Disposition"]
    )
    return pdf_pages(b"".join(response.streaming_content))


def code_on(page: Page) -> str:
    """The code printed on a letter (in its display form, whatever the language)."""
    (code,) = [s for s in page.strings if CODE.fullmatch(s)]
    return code


def errors_of(response, status: int) -> list[dict]:
    assert response.status_code == status, response.content
    return response.json()["errors"]


@pytest.fixture
def codes_import(admin_client) -> InvitationImport:
    """A finished codes import of three rows (the admin's upload, checked, confirmed)."""
    content = csv_bytes(
        [
            HEADER,
            ["", "Zoë", "Façade", "nl-BE", "", ""],
            ["", "", "", "fr-BE", "", ""],
            ["", "Ann", "Ash", "", "", ""],
        ]
    )
    result = checked(admin_client, "codes.csv", content, kind="codes", language="en")
    assert result["progress"]["status"] == "ready", result
    assert confirm(admin_client, result["id"]).status_code == 202
    invitation_import = InvitationImport.objects.get(pk=result["id"])
    assert invitation_import.status == InvitationImport.Status.DONE
    return invitation_import


def _codes(invitation_import: InvitationImport) -> list[Invitation]:
    return list(Invitation.objects.filter(batch=invitation_import.batch).order_by("id"))


def _accept(invitation: Invitation, email: str) -> None:
    invitation_accept(
        token=invitation.token, email=email, first_name="A", last_name="B", password=PASSWORD
    )


# --- The API -------------------------------------------------------------------------------


def test_the_api_serves_a_batchs_letters_as_a_pdf_attachment(admin_client, codes_import):
    pages = pdf_of(admin_client.get(LETTERS, {"batch": codes_import.batch_id}))

    assert [code_on(p) for p in pages] == [i.token_display for i in _codes(codes_import)]
    assert "Beste Zoë," in pages[0].strings
    assert "Bonjour," in pages[1].strings
    assert "Hello Ann," in pages[2].strings


def test_the_api_prints_a_selection_of_ids(admin_client, codes_import):
    first, _second, third = _codes(codes_import)

    pages = pdf_of(admin_client.get(LETTERS, {"ids": [third.pk, first.pk]}))

    assert [code_on(p) for p in pages] == [
        first.token_display,
        third.token_display,
    ]


def test_the_api_answers_letter_errors_with_stable_codes(admin_client, codes_import, settings):
    first, *_rest = _codes(codes_import)
    _accept(first, "zoe@x.example")

    (error,) = errors_of(admin_client.get(LETTERS, {"ids": [first.pk]}), 422)
    assert error["code"] == "no_letters"
    (error,) = errors_of(admin_client.get(LETTERS), 422)
    assert error["code"] == "invalid"
    (error,) = errors_of(admin_client.get(LETTERS, {"batch": 999_999}), 404)
    assert error["code"] == "not_found"
    settings.PORTICO_MAX_LETTERS = 1
    (error,) = errors_of(admin_client.get(LETTERS, {"batch": codes_import.batch_id}), 422)
    assert (error["code"], error["limit"], error["count"]) == ("too_many_letters", 1, 2)


def test_the_api_prints_a_large_batch_part_by_part(admin_client, codes_import, settings):
    settings.PORTICO_MAX_LETTERS = 2
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
    first, *_rest = _codes(codes_import)

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


# --- The import page -----------------------------------------------------------------------


def test_a_finished_import_offers_its_letters(admin_client, codes_import):
    url = reverse("web:import-letters", kwargs={"pk": codes_import.pk})

    page = admin_client.get(reverse("web:import", kwargs={"pk": codes_import.pk})).content
    assert f'action="{url}"' in page.decode()
    assert 'data-testid="print-letters"' in page.decode()

    pages = pdf_of(admin_client.post(url))
    assert len(pages) == 3
    assert _codes(codes_import)[0].token_display in pages[0].strings


def test_a_large_import_offers_its_letters_in_parts(admin_client, codes_import, settings):
    settings.PORTICO_MAX_LETTERS = 2
    url = reverse("web:import-letters", kwargs={"pk": codes_import.pk})
    codes = _codes(codes_import)

    page = admin_client.get(reverse("web:import", kwargs={"pk": codes_import.pk})).content
    buttons = re.findall(
        r'name="part" value="(\d+)" data-testid="print-letters-part">([^<]+)<', page.decode()
    )

    assert f'action="{url}"' in page.decode()
    assert buttons == [("1", "letters 1 to 2"), ("2", "letters 3 to 3")]
    first, second = (pdf_of(admin_client.post(url, {"part": part})) for part, _label in buttons)
    assert [code_on(p) for p in first] == [c.token_display for c in codes[:2]]
    assert [code_on(p) for p in second] == [codes[2].token_display]


def test_an_import_not_yet_confirmed_has_no_letters(admin_client):
    content = csv_bytes([HEADER, ["", "Zoë", "Façade", "nl-BE", "", ""]])
    result = checked(admin_client, "codes.csv", content, kind="codes", language="en")
    detail = reverse("web:import", kwargs={"pk": result["id"]})

    assert 'data-testid="print-letters"' not in admin_client.get(detail).content.decode()
    response = admin_client.post(
        reverse("web:import-letters", kwargs={"pk": result["id"]}), follow=True
    )

    assert response.redirect_chain == [(detail, 302)]
    assert "Letters can be printed once the import is done." in response.content.decode()


def test_an_import_whose_codes_were_all_used_says_so_on_its_page(admin_client, codes_import):
    for n, invitation in enumerate(_codes(codes_import)):
        _accept(invitation, f"person{n}@x.example")

    detail = reverse("web:import", kwargs={"pk": codes_import.pk})
    assert 'data-testid="print-letters"' not in admin_client.get(detail).content.decode()
    response = admin_client.post(
        reverse("web:import-letters", kwargs={"pk": codes_import.pk}), follow=True
    )

    assert response.redirect_chain == [(detail, 302)]
    assert "Nothing to print: letters are printed for pending invitations only" in (
        response.content.decode()
    )


# --- The list's bulk action ----------------------------------------------------------------


def test_the_list_prints_the_selected_invitations(admin_client, codes_import):
    first, second, _third = _codes(codes_import)
    page = admin_client.get(reverse("web:invitations")).content.decode()
    assert f'formaction="{reverse("web:invitations-letters")}" data-testid="print-letters"' in page

    pages = pdf_of(
        admin_client.post(reverse("web:invitations-letters"), {"ids": [second.pk, first.pk]})
    )

    assert [code_on(p) for p in pages] == [
        first.token_display,
        second.token_display,
    ]


def test_printing_nothing_printable_from_the_list_says_so_on_the_list(admin_client, codes_import):
    first, *_rest = _codes(codes_import)
    _accept(first, "zoe@x.example")

    response = admin_client.post(
        reverse("web:invitations-letters"),
        {"ids": [first.pk], "q": "zoe", "status": "accepted", "sort": "email", "page": "1"},
        follow=True,
    )

    ((location, status),) = response.redirect_chain
    assert status == 302
    assert location == reverse("web:invitations") + "?q=zoe&status=accepted&sort=email&page=1"
    assert "Nothing to print: letters are printed for pending invitations only" in (
        response.content.decode()
    )


def test_too_many_letters_from_the_list_says_so_on_the_list(admin_client, codes_import, settings):
    settings.PORTICO_MAX_LETTERS = 2
    ids = [i.pk for i in _codes(codes_import)]

    response = admin_client.post(reverse("web:invitations-letters"), {"ids": ids}, follow=True)

    assert response.redirect_chain == [(reverse("web:invitations"), 302)]
    assert "Too many letters to print at once: 3 selected, the limit is 2." in (
        response.content.decode()
    )


def test_only_admins_open_the_letter_pages(
    resident_client, moderator_client, anonymous_client, codes_import
):
    import_letters = reverse("web:import-letters", kwargs={"pk": codes_import.pk})
    list_letters = reverse("web:invitations-letters")
    ids = {"ids": [i.pk for i in _codes(codes_import)]}
    for client in (resident_client, moderator_client):
        assert client.post(import_letters).status_code == 403
        assert client.post(list_letters, ids).status_code == 403
    assert anonymous_client.post(import_letters).status_code == 302
    assert anonymous_client.post(list_letters, ids)["Location"].startswith(
        reverse("accounts:sign-in")
    )


@pytest.mark.parametrize("where", ["list", "import"])
def test_printing_letters_needs_the_csrf_token(admin, codes_import, where):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    ids = {"ids": [i.pk for i in _codes(codes_import)]} if where == "list" else {}
    if where == "list":
        url, page = reverse("web:invitations-letters"), reverse("web:invitations")
    else:
        url = reverse("web:import-letters", kwargs={"pk": codes_import.pk})
        page = reverse("web:import", kwargs={"pk": codes_import.pk})

    assert client.post(url, ids).status_code == 403
    assert client.get(url).status_code == 405  # printing is a POST, never a link

    client.get(page)  # sets the CSRF cookie, as a browser would
    token = client.cookies["csrftoken"].value
    assert len(pdf_of(client.post(url, {**ids, "csrfmiddlewaretoken": token}))) == 3

"""The admin pages of printed letters: an import's "Print letters (PDF)" and the list's
bulk "Print letters" queue a print and land on its page, which polls its progress bar
and offers the Download button once drawn (each download audited); the recent prints
are listed; errors come back on the page the admin came from; 403 for everyone but
admins; CSRF on every form."""

from __future__ import annotations

import re
import tracemalloc
from datetime import timedelta

import pytest
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from portico.core.models import AuditEvent
from portico.invitations.models import InvitationImport, LetterPrint
from portico.invitations.services.retention import letter_prints_forget_files
from tests.invitations.printing import accept, code_on, codes_of, finished_codes_import, pdf_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def codes_import(admin_client) -> InvitationImport:
    return finished_codes_import(admin_client)


def import_page(invitation_import: InvitationImport) -> str:
    return reverse("web:import", kwargs={"pk": invitation_import.pk})


def print_import(client: Client, invitation_import: InvitationImport, *, drawn: bool = True):
    """The admin presses the import page's "Print letters (PDF)"; the worker draws the
    print after commit unless ``drawn`` is False (it has not got to it yet)."""
    url = reverse("web:import-letters", kwargs={"pk": invitation_import.pk})
    with TestCase.captureOnCommitCallbacks(execute=drawn):
        return client.post(url)


def the_print() -> LetterPrint:
    return LetterPrint.objects.get()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- From an import ------------------------------------------------------------------------


def test_an_imports_letters_are_printed_in_the_background_then_downloaded(
    admin_client, admin, codes_import
):
    page = admin_client.get(import_page(codes_import)).content.decode()
    action = reverse("web:import-letters", kwargs={"pk": codes_import.pk})
    assert f'action="{action}"' in page
    assert 'data-testid="print-letters"' in page

    response = print_import(admin_client, codes_import)

    letter_print = the_print()
    assert response["Location"] == reverse("web:letter-print", kwargs={"pk": letter_print.pk})
    page = admin_client.get(response["Location"]).content.decode()
    assert 'data-testid="letter-print-status">Done<' in page
    assert 'data-testid="letters-drawn">3<' in page
    assert "codes.csv" in page  # what it prints: the import, linked
    assert "hx-get" not in page  # nothing left to poll
    download = reverse("web:letter-print-download", kwargs={"pk": letter_print.pk})
    assert f'action="{download}"' in page

    pages = pdf_of(admin_client.post(download))

    assert [code_on(p) for p in pages] == [i.token_display for i in codes_of(codes_import)]
    (entry,) = AuditEvent.objects.filter(verb="invitation.letters_downloaded")
    assert (entry.actor, entry.target_id) == (admin, str(letter_print.pk))
    # The import's page links to its prints.
    assert (
        f'href="{response["Location"]}"'
        in admin_client.get(import_page(codes_import)).content.decode()
    )


def test_the_print_page_polls_its_progress_until_the_letters_are_drawn(admin_client, codes_import):
    location = print_import(admin_client, codes_import, drawn=False)["Location"]
    letter_print = the_print()
    progress = reverse("web:letter-print-progress", kwargs={"pk": letter_print.pk})

    page = admin_client.get(location).content.decode()
    assert f'hx-get="{progress}"' in page
    assert 'data-testid="letter-print-status">Queued<' in page
    assert 'data-testid="download-letters"' not in page

    # Half-way: what the worker records every few hundred letters, seen on reload too.
    LetterPrint.objects.filter(pk=letter_print.pk).update(status="drawing", drawn=2)
    partial = admin_client.get(progress).content.decode()
    assert 'data-testid="letters-drawn">2<' in partial
    assert 'data-testid="letters-total">3<' in partial
    assert 'value="2"' in partial
    assert "hx-get" in partial

    LetterPrint.objects.filter(pk=letter_print.pk).update(status="queued", drawn=0)
    from portico.invitations.services.letters import letter_print_draw

    letter_print_draw(print_id=letter_print.pk, now=timezone.now())  # the worker's run
    partial = admin_client.get(progress).content.decode()
    assert "hx-get" not in partial
    assert 'data-testid="download-letters"' in partial
    assert "csrfmiddlewaretoken" in partial


def test_an_import_not_yet_confirmed_has_no_letters(admin_client):
    from tests.invitations.sheet_files import HEADER, checked, csv_bytes

    content = csv_bytes([HEADER, ["", "Zoë", "Façade", "nl-BE", "", ""]])
    result = checked(admin_client, "codes.csv", content, kind="codes", language="en")
    invitation_import = InvitationImport.objects.get(pk=result["id"])

    assert 'data-testid="print-letters"' not in (
        admin_client.get(import_page(invitation_import)).content.decode()
    )
    url = reverse("web:import-letters", kwargs={"pk": invitation_import.pk})
    response = admin_client.post(url, follow=True)

    assert response.redirect_chain == [(import_page(invitation_import), 302)]
    assert messages_of(response) == ["Letters can be printed once the import is done."]
    assert not LetterPrint.objects.exists()


def test_an_import_whose_codes_were_all_used_says_so_on_its_page(admin_client, codes_import):
    for n, invitation in enumerate(codes_of(codes_import)):
        accept(invitation, f"person{n}@x.example")

    assert 'data-testid="print-letters"' not in (
        admin_client.get(import_page(codes_import)).content.decode()
    )
    url = reverse("web:import-letters", kwargs={"pk": codes_import.pk})
    response = admin_client.post(url, follow=True)

    assert response.redirect_chain == [(import_page(codes_import), 302)]
    (message,) = messages_of(response)
    assert message.startswith("Nothing to print: letters are printed for pending invitations")


# --- From the list -------------------------------------------------------------------------


def test_the_list_prints_the_selected_invitations(admin_client, codes_import):
    first, second, _third = codes_of(codes_import)
    page = admin_client.get(reverse("web:invitations")).content.decode()
    assert f'formaction="{reverse("web:invitations-letters")}" data-testid="print-letters"' in page

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = admin_client.post(
            reverse("web:invitations-letters"), {"ids": [second.pk, first.pk]}
        )

    letter_print = the_print()
    assert response["Location"] == reverse("web:letter-print", kwargs={"pk": letter_print.pk})
    assert "2 selected invitations" in admin_client.get(response["Location"]).content.decode()
    download = reverse("web:letter-print-download", kwargs={"pk": letter_print.pk})
    pages = pdf_of(admin_client.post(download))
    assert [code_on(p) for p in pages] == [first.token_display, second.token_display]


def test_the_list_ignores_what_cannot_be_an_invitations_id(admin_client, codes_import):
    first, *_rest = codes_of(codes_import)
    # A superscript digit (a digit to str.isdigit, not to int), a number past what a
    # database id holds, a negative number.
    ids = ["²", "9" * 30, "-3", str(first.pk)]

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = admin_client.post(reverse("web:invitations-letters"), {"ids": ids})

    letter_print = the_print()
    assert response["Location"] == reverse("web:letter-print", kwargs={"pk": letter_print.pk})
    assert (letter_print.ids, letter_print.total) == ([first.pk], 1)


def test_printing_nothing_printable_from_the_list_says_so_on_the_list(admin_client, codes_import):
    first, *_rest = codes_of(codes_import)
    accept(first, "zoe@x.example")

    response = admin_client.post(
        reverse("web:invitations-letters"),
        {"ids": [first.pk], "q": "zoe", "status": "accepted", "sort": "email", "page": "1"},
        follow=True,
    )

    ((location, status),) = response.redirect_chain
    assert status == 302
    assert location == reverse("web:invitations") + "?q=zoe&status=accepted&sort=email&page=1"
    (message,) = messages_of(response)
    assert message.startswith("Nothing to print: letters are printed for pending invitations")


def test_too_many_letters_from_the_list_says_so_on_the_list(admin_client, codes_import, settings):
    settings.PORTICO_MAX_LETTERS = 2
    ids = [i.pk for i in codes_of(codes_import)]

    response = admin_client.post(reverse("web:invitations-letters"), {"ids": ids}, follow=True)

    assert response.redirect_chain == [(reverse("web:invitations"), 302)]
    assert messages_of(response) == [
        "Too many letters for one print: 3 selected, the limit is 2. Select fewer invitations."
    ]


# --- The prints ----------------------------------------------------------------------------


def test_the_recent_prints_are_listed_with_what_they_print(admin_client, codes_import):
    print_import(admin_client, codes_import)
    with TestCase.captureOnCommitCallbacks(execute=True):
        admin_client.post(
            reverse("web:invitations-letters"), {"ids": [codes_of(codes_import)[0].pk]}
        )

    page = admin_client.get(reverse("web:letter-prints")).content.decode()

    rows = re.findall(r'<tr data-testid="letter-print-row">(.*?)</tr>', page, re.DOTALL)
    assert len(rows) == 2
    assert "1 selected invitation" in rows[0]  # the newest first
    assert "codes.csv" in rows[1]
    assert all("Done" in row and "Ada Admin" in row for row in rows)
    assert (
        'href="/manage/invitations/prints/"'
        in admin_client.get(reverse("web:invitations")).content.decode()
    )  # the tab


def peak_memory_of(call) -> tuple[object, int]:
    """What ``call()`` returns, and the most memory it held at once (bytes)."""
    tracemalloc.start()
    try:
        return call(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_pages_of_prints_do_not_read_the_ids_they_select(admin, admin_client):
    # A print of ids keeps them all, up to PORTICO_MAX_LETTERS (100,000): about 4 MB in
    # memory once read. The pages show how many there are, never the ids themselves.
    ids = list(range(1, 100_001))
    prints = LetterPrint.objects.bulk_create(
        [LetterPrint(actor=admin, ids=ids, total=0, status="failed") for _ in range(10)]
    )
    pages = [
        reverse("web:letter-prints"),
        reverse("web:letter-print", kwargs={"pk": prints[0].pk}),
        reverse("web:letter-print-progress", kwargs={"pk": prints[0].pk}),  # every second
    ]

    for url in pages:
        admin_client.get(url)  # a process's first request loads what later ones reuse
        response, peak = peak_memory_of(lambda url=url: admin_client.get(url))

        assert response.status_code == 200
        assert peak < 2_000_000, (url, peak)
    listed = admin_client.get(pages[0]).content.decode()
    assert listed.count("100000 selected invitations") == 10
    assert "100000 selected invitations" in admin_client.get(pages[1]).content.decode()


def test_a_deleted_pdf_is_no_longer_offered(admin_client, codes_import):
    location = print_import(admin_client, codes_import)["Location"]
    letter_print = the_print()
    assert letter_prints_forget_files(now=timezone.now() + timedelta(days=8)) == 1

    page = admin_client.get(location).content.decode()
    assert 'data-testid="letters-deleted"' in page
    assert 'data-testid="download-letters"' not in page
    download = reverse("web:letter-print-download", kwargs={"pk": letter_print.pk})
    response = admin_client.post(download, follow=True)

    assert response.redirect_chain == [(location, 302)]
    assert messages_of(response) == [
        "This PDF was deleted after its retention period. Print the letters again."
    ]


def test_a_failed_print_says_why(admin_client, codes_import):
    location = print_import(admin_client, codes_import, drawn=False)["Location"]
    for n, invitation in enumerate(codes_of(codes_import)):
        accept(invitation, f"person{n}@x.example")
    from portico.invitations.services.letters import letter_print_draw

    letter_print_draw(print_id=the_print().pk, now=timezone.now())

    page = admin_client.get(location).content.decode()
    assert 'data-testid="letter-print-status">Failed<' in page
    assert "Nothing to print" in page


# --- Who may, and how ----------------------------------------------------------------------


def test_only_admins_open_the_letter_pages(
    admin_client, resident_client, moderator_client, anonymous_client, codes_import
):
    print_import(admin_client, codes_import)
    pk = the_print().pk
    posts = [
        (reverse("web:import-letters", kwargs={"pk": codes_import.pk}), {}),
        (reverse("web:invitations-letters"), {"ids": [i.pk for i in codes_of(codes_import)]}),
        (reverse("web:letter-print-download", kwargs={"pk": pk}), {}),
    ]
    gets = [
        reverse("web:letter-prints"),
        reverse("web:letter-print", kwargs={"pk": pk}),
        reverse("web:letter-print-progress", kwargs={"pk": pk}),
    ]
    for client in (resident_client, moderator_client):
        for url, data in posts:
            assert client.post(url, data).status_code == 403
        for url in gets:
            assert client.get(url).status_code == 403
    for url, data in posts:
        assert anonymous_client.post(url, data)["Location"].startswith(reverse("accounts:sign-in"))
    for url in gets:
        assert anonymous_client.get(url)["Location"].startswith(reverse("accounts:sign-in"))
    assert LetterPrint.objects.count() == 1
    assert not AuditEvent.objects.filter(verb="invitation.letters_downloaded").exists()


@pytest.mark.parametrize("where", ["list", "import", "download"])
def test_every_letters_form_needs_the_csrf_token(admin, admin_client, codes_import, where):
    print_import(admin_client, codes_import)
    pk = the_print().pk
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    data, page = {}, reverse("web:letter-print", kwargs={"pk": pk})
    if where == "list":
        url, page = reverse("web:invitations-letters"), reverse("web:invitations")
        data = {"ids": [i.pk for i in codes_of(codes_import)]}
    elif where == "import":
        url, page = (
            reverse("web:import-letters", kwargs={"pk": codes_import.pk}),
            import_page(codes_import),
        )
    else:
        url = reverse("web:letter-print-download", kwargs={"pk": pk})

    assert client.post(url, data).status_code == 403
    assert client.get(url).status_code == 405  # a POST, never a link

    client.get(page)  # sets the CSRF cookie, as a browser would
    token = client.cookies["csrftoken"].value
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(url, {**data, "csrfmiddlewaretoken": token})
    if where == "download":
        assert len(pdf_of(response)) == 3
    else:
        assert response.status_code == 302
        assert LetterPrint.objects.count() == 2

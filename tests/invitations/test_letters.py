"""Printable letters, as drawn in the request (the worker's prints draw the same pages:
see test_letter_prints.py): one A4 page per pending invitation of a batch or a
selection, each in the invitation's language, with its code, the address to type it
at, a QR code of its own link and its expiry date; accepted and expired invitations
skipped; a limit; stable errors; every print in the audit log.

The PDFs are read back with tests.invitations.pdf (pages, text, the QR code drawn)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import segno
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone, translation

from portico.core.errors import ApplicationError
from portico.core.models import AuditEvent
from portico.invitations.emails import invitation_link
from portico.invitations.letters import printable
from portico.invitations.models import Invitation
from portico.invitations.services.accept import invitation_accept
from portico.invitations.services.letters_in_request import invitation_letters_print
from tests.conftest import PASSWORD
from tests.invitations.pdf import Page, pdf_pages

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 15, 9, 30, tzinfo=ZoneInfo("Europe/Brussels"))
INVITE_ADDRESS = "http://testserver/invite/"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def printed(admin, **selection) -> list[Page]:
    """The pages of the letters printed by ``admin`` for ``selection``."""
    letters = invitation_letters_print(actor=admin, **selection)
    with letters.file:
        pages = pdf_pages(letters.file.read())
    assert letters.count == len(pages)
    return pages


def flowing(page: Page) -> str:
    """The page's text with its wrapped lines joined again."""
    return " ".join(page.strings)


def prints(verb: str = "invitation.letters_printed") -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb=verb).order_by("id"))


def test_a_batch_prints_one_page_per_invitation_in_the_order_of_its_rows(admin, codes):
    batch = codes(("Ann", "Ash", "en"), ("", "", None), ("Cleo", "Cedar", "fr-BE"))
    invitations = Invitation.objects.filter(batch=batch.batch).order_by("id")

    pages = printed(admin, batch_id=batch.batch.pk)

    assert len(pages) == 3
    for page, invitation in zip(pages, invitations, strict=True):
        assert invitation.token_display in page.strings


def test_a_codes_page_carries_its_code_in_display_form_and_the_address_to_type_it_at(admin, codes):
    batch = codes(("", "", "en"))
    invitation = Invitation.objects.get(batch=batch.batch)

    (page,) = printed(admin, batch_id=batch.batch.pk)

    assert re.fullmatch(
        r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}", invitation.token_display
    )
    assert invitation.token_display in page.strings
    assert INVITE_ADDRESS in page.strings
    assert "Portico" in page.strings  # the platform's name (PORTICO_PLATFORM_NAME)
    font, size = page.font_of(invitation.token_display)
    assert font.startswith("Courier")  # monospace
    assert size >= 24


def test_each_page_is_in_its_invitations_language(admin, codes, frozen):
    batch = codes(("Zoë", "Façade", "en"), ("Zoë", "Façade", "nl-BE"), ("Zoë", "Façade", "fr-BE"))

    english, dutch, french = printed(admin, batch_id=batch.batch.pk)

    # Salutations and dates come from catalogs that already exist (the invitation
    # email's salutation, Django's month names), printed on 15 March, valid 30 days.
    assert "Hello Zoë," in english.strings
    assert "March 15, 2026" in english.strings
    assert "This code is valid until April 14, 2026." in english.strings
    assert "Beste Zoë," in dutch.strings
    assert "15 maart 2026" in dutch.strings
    assert "14 april 2026" in flowing(dutch)
    assert "Bonjour Zoë," in french.strings
    assert "15 mars 2026" in french.strings
    assert "14 avril 2026" in flowing(french)
    # The letter's own sentences, in each language's catalog (English until translated).
    for page, language in ((english, "en"), (dutch, "nl-BE"), (french, "fr-BE")):
        with translation.override(language):
            title = translation.gettext("Your invitation to %(platform_name)s") % {
                "platform_name": "Portico"
            }
            code_label = translation.gettext("Your code")
            keep = translation.gettext(
                "Keep this letter to yourself: the code works only once, for one account."
            )
        assert title in page.strings
        assert code_label in page.strings
        assert keep in flowing(page)


def test_accented_names_are_printed_as_they_are(admin, codes):
    batch = codes(("Zoë", "Façade", "fr-BE"))

    (page,) = printed(admin, batch_id=batch.batch.pk)

    assert "Zoë Façade" in page.strings  # where a window envelope shows it
    assert "Bonjour Zoë," in page.strings


def test_a_page_without_a_name_has_a_neutral_salutation(admin, codes):
    batch = codes(("", "", "nl-BE"), ("", "", "en"))

    dutch, english = printed(admin, batch_id=batch.batch.pk)

    assert "Goedendag," in dutch.strings
    assert "Hello," in english.strings


def test_letters_beyond_the_fonts_print_as_their_closest_letters():
    assert printable("Zoë Façade Œuvre €") == "Zoë Façade Œuvre €"
    assert printable("Łukasz Nguyễn Ștefan") == "Lukasz Nguyên Stefan"
    assert printable("Дмитрий Smith") == "Smith"
    assert printable("Ann\x00\x1b Ash") == "Ann Ash"


def test_a_name_in_a_script_the_fonts_lack_gets_the_neutral_salutation(admin, codes):
    batch = codes(("Дмитрий", "Łukasz", "en"))

    (page,) = printed(admin, batch_id=batch.batch.pk)

    assert "Hello," in page.strings
    assert "Lukasz" in page.strings


def test_the_qr_code_opens_the_invitations_own_link(admin, invite):
    invitation = invite("Ann Ash <ann@x.example>", language="nl-BE")
    (email,) = mail.outbox
    link = invitation_link(invitation)
    assert link == f"http://testserver/invite/{invitation.token}/"
    assert link in email.body  # the link of the invitation email

    (page,) = printed(admin, ids=[invitation.pk])

    # The drawn code is the link's QR code at level M, under one of its eight masks.
    candidates = [segno.make_qr(link, error="m", mask=mask) for mask in range(8)]
    size = len(candidates[0].matrix)
    drawn = page.qr_matrix(size)
    assert any(drawn == [[bit & 1 for bit in row] for row in c.matrix] for c in candidates)


def test_accepted_and_expired_invitations_are_skipped(admin, invite, make_code):
    pending = make_code()
    accepted = invite("bob@x.example")
    invitation_accept(token=accepted.token, first_name="Bob", last_name="B", password=PASSWORD)
    lapsed = invite("cleo@x.example")  # expired, not yet marked by the sweep
    Invitation.objects.filter(pk=lapsed.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    marked = invite("dan@x.example")
    Invitation.objects.filter(pk=marked.pk).update(status=Invitation.Status.EXPIRED)

    (page,) = printed(admin, ids=[accepted.pk, pending.pk, lapsed.pk, marked.pk, 999_999])

    assert pending.token_display in page.strings
    assert prints()[0].details["ids"] == [pending.pk]


@pytest.mark.parametrize("selection", ["accepted_and_expired", "unknown_ids", "no_ids"])
def test_a_selection_with_nothing_pending_is_no_letters(admin, invite, selection):
    accepted = invite("bob@x.example")
    invitation_accept(token=accepted.token, first_name="Bob", last_name="B", password=PASSWORD)
    expired = invite("cleo@x.example")
    Invitation.objects.filter(pk=expired.pk).update(status=Invitation.Status.EXPIRED)
    ids = {
        "accepted_and_expired": [accepted.pk, expired.pk],
        "unknown_ids": [999_998, 999_999],
        "no_ids": [],
    }[selection]

    with pytest.raises(ApplicationError) as raised:
        invitation_letters_print(actor=admin, ids=ids)

    assert (raised.value.code, raised.value.status) == ("no_letters", 422)
    assert prints() == []


def test_a_batch_whose_invitations_were_all_used_is_no_letters(admin, codes):
    batch = codes(("", "", "en"))
    invitation = Invitation.objects.get(batch=batch.batch)
    invitation_accept(
        token=invitation.token,
        email="zoe@x.example",
        first_name="Zoë",
        last_name="Façade",
        password=PASSWORD,
    )

    with pytest.raises(ApplicationError) as raised:
        invitation_letters_print(actor=admin, batch_id=batch.batch.pk)

    assert raised.value.code == "no_letters"


def test_more_letters_than_the_limit_is_too_many_letters(admin, codes, settings):
    settings.PORTICO_MAX_LETTERS_IN_REQUEST = 2
    batch = codes(("", "", "en"), ("", "", "en"), ("", "", "en"))
    ids = list(Invitation.objects.filter(batch=batch.batch).values_list("pk", flat=True))

    for selection in ({"batch_id": batch.batch.pk}, {"ids": ids}):
        with pytest.raises(ApplicationError) as raised:
            invitation_letters_print(actor=admin, **selection)
        error = raised.value
        assert (error.code, error.status) == ("too_many_letters", 422)
        assert error.as_dict()["limit"] == 2
        assert error.as_dict()["count"] == 3
    assert prints() == []

    assert len(printed(admin, ids=ids[:2])) == 2  # the limit itself is fine


def test_the_limit_counts_printable_letters_of_a_batch(admin, codes, settings):
    settings.PORTICO_MAX_LETTERS_IN_REQUEST = 2
    batch = codes(("", "", "en"), ("", "", "en"), ("", "", "en"))
    Invitation.objects.filter(pk=batch.invitation_ids[0]).update(status=Invitation.Status.EXPIRED)

    assert len(printed(admin, batch_id=batch.batch.pk)) == 2


@pytest.mark.parametrize(
    ("part", "first_used"),
    [
        (2, 1),  # the part no longer has a letter before it
        (2, 2),  # it has one, but none after it
        (None, 0),  # the whole batch
    ],
)
def test_letters_used_while_they_were_counted_are_no_letters(
    admin, codes, settings, part, first_used
):
    settings.PORTICO_MAX_LETTERS_IN_REQUEST = 2 if part else 3
    batch = codes(("", "", "en"), ("", "", "en"), ("", "", "en"))
    invitations = list(Invitation.objects.filter(batch=batch.batch).order_by("id"))
    used = []

    def invitees_sign_up_right_after_the_count(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not used and sql.startswith("SELECT COUNT(*)"):
            used.append(None)  # once: the acceptances' own queries come through here too
            for n, invitation in enumerate(invitations[first_used:]):
                invitation_accept(
                    token=invitation.token,
                    email=f"quick{n}@x.example",
                    first_name="Q",
                    last_name="Uick",
                    password=PASSWORD,
                )
        return result

    with (
        connection.execute_wrapper(invitees_sign_up_right_after_the_count),
        pytest.raises(ApplicationError) as raised,
    ):
        invitation_letters_print(actor=admin, batch_id=batch.batch.pk, part=part)

    assert used == [None]
    assert (raised.value.code, raised.value.status) == ("no_letters", 422)
    assert prints() == []


def test_an_unknown_batch_is_not_found(admin):
    with pytest.raises(ApplicationError) as raised:
        invitation_letters_print(actor=admin, batch_id=999_999)

    assert (raised.value.code, raised.value.status) == ("not_found", 404)


def test_printing_needs_a_batch_or_ids(admin):
    with pytest.raises(ApplicationError) as raised:
        invitation_letters_print(actor=admin)

    assert (raised.value.code, raised.value.status) == ("invalid", 422)


def test_every_print_is_audited_with_its_count_and_selection(admin, codes, make_code):
    batch = codes(("", "", "en"), ("", "", "fr-BE"))
    other = make_code()

    printed(admin, batch_id=batch.batch.pk)
    printed(admin, ids=[other.pk, batch.invitation_ids[0]])

    by_batch, by_ids = prints()
    assert by_batch.actor == admin
    assert by_batch.details == {"count": 2, "batch": batch.batch.pk, "ids": None, "part": None}
    assert by_ids.actor == admin
    assert by_ids.details == {
        "count": 2,
        "batch": None,
        "ids": sorted([other.pk, batch.invitation_ids[0]]),
        "part": None,
    }

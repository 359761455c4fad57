"""Invitations, in a real browser.

The issue's journey: an admin invites someone with admin rights and a group, the email
appears in the dev mailbox, the invitee follows the link and chooses a password, and is
then signed in, an admin, and a member of the group. And a short one: a resident types
the code from their letter, wrong first, then right (lower case, with spaces).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portico.accounts.models import User
from portico.groups.models import Group
from portico.invitations import tokens
from portico.invitations.models import Invitation
from portico.invitations.services.create import (
    InviteOptions,
    InviteRow,
    invitation_create_batch,
)
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import nav, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL = "demo.admin@city.example"
ADMIN_NAME = "Demo Admin"
GROUP = "North Avenue Residents"
INVITEE_EMAIL = "nora.north@example.org"
INVITEE_PASSWORD = "Lantern-Harbour-1987"
LANGUAGE = "Nederlands (België)"  # not the platform's default (English): it must travel
MESSAGE_LINES = (
    "Welcome aboard, Nora!",
    "We meet on Thursdays at the North Avenue library.",
)

INVITE_LINK = re.compile(r"https?://\S+/invite/[0-9A-Z]+/")


def test_an_invited_admin_accepts_and_is_signed_in_an_admin_and_in_the_group(
    page: Page, new_context, live_server
):
    base = live_server.url
    make_user(ADMIN_EMAIL, is_admin=True, first_name="Demo", last_name="Admin")
    group = Group.objects.create(name=GROUP, kind=Group.Kind.MANUAL)

    # The admin signs in and opens Invitations → "Enter email addresses".
    admin = page
    sign_in(admin, base, email=ADMIN_EMAIL, password=PASSWORD)
    expect(admin.get_by_test_id("current-user")).to_have_text(ADMIN_NAME)
    nav(admin, "Invitations")
    expect(admin.get_by_role("heading", level=1)).to_have_text("Invitations")
    admin.get_by_role("navigation", name="Invitations").get_by_role(
        "link", name="Enter email addresses"
    ).click()
    expect(admin).to_have_url(f"{base}/manage/invitations/invite/")
    expect(admin.get_by_role("heading", level=1)).to_have_text("Invite people")

    # One person, with admin rights, the group, a language and a personal message.
    form = admin.locator("main form")
    form.get_by_label("Email addresses").fill(f"Nora North <{INVITEE_EMAIL}>")
    form.get_by_role("checkbox", name="Give admin rights").check()
    form.get_by_role("checkbox", name=GROUP, exact=True).check()
    form.get_by_label("Language of the invitation").select_option(label=LANGUAGE)
    form.get_by_label("Personal message").fill("\n".join(MESSAGE_LINES))
    form.get_by_role("button", name="Send invitations").click()

    expect(admin).to_have_url(f"{base}/manage/invitations/")
    expect(admin.get_by_role("status")).to_contain_text(
        "Invited: 1. Registered users updated: 0. Merged into pending invitations: 0. "
        "Expired invitations renewed: 0."
    )
    row = admin.get_by_test_id("invitation-row").filter(has_text=INVITEE_EMAIL)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Nora North")
    expect(row.get_by_test_id("status")).to_contain_text("Pending")
    expect(row.get_by_test_id("status")).to_contain_text("admin")

    # The email waits in the dev mailbox, in the invitee's language, naming the admin
    # and carrying the message.
    nav(admin, "Mailbox")
    expect(admin.get_by_role("heading", level=1)).to_have_text("Mailbox")
    mail = admin.get_by_test_id("mail-row").filter(has_text=INVITEE_EMAIL)
    expect(mail).to_have_count(1)
    mail.get_by_role("link").click()
    expect(admin.get_by_test_id("mail-subject")).to_have_text(
        f"{ADMIN_NAME} nodigt u uit op Portico"
    )
    body = admin.get_by_test_id("mail-text")
    expect(body).to_contain_text("Beste Nora,")
    expect(body).to_contain_text(f"{ADMIN_NAME} nodigt u uit om lid te worden van Portico.")
    expect(body).to_contain_text("\n".join(MESSAGE_LINES))
    html_message = admin.frame_locator("iframe.mail").locator("blockquote")
    for line in MESSAGE_LINES:
        expect(html_message).to_contain_text(line)
    match = INVITE_LINK.search(body.inner_text())
    assert match, body.inner_text()
    link = match.group(0)
    assert link.startswith(base + "/invite/"), link

    # The invitee, in a browser of their own, follows the link: the form is filled in,
    # the address fixed.
    invitee = new_context().new_page()
    invitee.set_default_timeout(10_000)
    invitee.goto(link)
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Welcome to Portico")
    expect(invitee.locator("main")).to_contain_text(f"{ADMIN_NAME} invited you.")
    form = invitee.get_by_test_id("accept-form")
    expect(form.get_by_label("Email")).to_have_value(INVITEE_EMAIL)
    expect(form.get_by_label("Email")).to_be_disabled()
    expect(form.get_by_label("First name")).to_have_value("Nora")
    expect(form.get_by_label("Last name")).to_have_value("North")
    form.get_by_label("Password").fill(INVITEE_PASSWORD)
    form.get_by_role("button", name="Create my account").click()

    # Signed in, on the projects page, which now speaks the invitation's language.
    expect(invitee).to_have_url(f"{base}/")
    expect(invitee.get_by_test_id("current-user")).to_have_text("Nora North")
    expect(invitee.get_by_role("status")).to_have_text("Welkom op Portico! Uw account is klaar.")
    expect(invitee.locator("html")).to_have_attribute("lang", "nl-be")
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Projecten")

    # An admin: the admin menu is theirs, and its "Users" page opens.
    menu = invitee.get_by_role("navigation", name="Hoofdmenu")
    users_link = menu.get_by_role("link", name="Gebruikers", exact=True)  # "Users"
    expect(users_link).to_be_visible()
    users_link.click()
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Gebruikers")
    expect(invitee.get_by_role("row").filter(has_text=INVITEE_EMAIL)).to_have_count(1)

    # And in the database: what the invitation promised, and the invitation used up.
    user = User.objects.get(email=INVITEE_EMAIL)
    assert user.is_admin
    assert user.email_verified
    assert user.email_verified_at is not None
    assert (user.first_name, user.last_name) == ("Nora", "North")
    assert user.language == "nl-BE"
    assert user.check_password(INVITEE_PASSWORD)
    assert list(user.memberships.values_list("group__name", flat=True)) == [GROUP]
    assert group.members.filter(pk=user.pk).exists()
    invitation = Invitation.objects.get(email=INVITEE_EMAIL)
    assert invitation.status == Invitation.Status.ACCEPTED
    assert invitation.accepted_user_id == user.pk
    assert invitation.accepted_at is not None

    # The list tells the admin the same.
    nav(admin, "Invitations")
    row = admin.get_by_test_id("invitation-row").filter(has_text=INVITEE_EMAIL)
    expect(row.get_by_test_id("status")).to_contain_text("Accepted")


def test_a_resident_mistypes_their_code_then_types_it_right(page: Page, live_server):
    base = live_server.url
    admin = make_user(ADMIN_EMAIL, is_admin=True, first_name="Demo", last_name="Admin")
    result = invitation_create_batch(
        actor=admin,
        rows=[InviteRow(position=2, email=None)],
        options=InviteOptions(),
        where="row",
        allow_codes=True,
    )
    (invitation_id,) = result.invitation_ids
    code = Invitation.objects.get(pk=invitation_id).token  # canonical: 14 characters
    printed = tokens.display(code)  # as on the letter: 7KQ2-M9XD-4HTB-RW
    # One character wrong; the check character notices, the database is never asked.
    wrong = next(c for c in tokens.ALPHABET if c != code[5])
    mistyped = tokens.display(code[:5] + wrong + code[6:])
    assert not tokens.is_well_formed(tokens.normalize(mistyped))

    page.goto(f"{base}/invite/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Accept your invitation")
    field = page.locator("main form").get_by_label("Your invitation code")
    field.fill(mistyped)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("main form")).to_contain_text(
        "This code is not quite right: check it for a mistyped character."
    )
    expect(page).to_have_url(f"{base}/invite/")
    expect(field).to_have_value(mistyped)

    # Typed again, as people do: lower case, spaces instead of dashes.
    typed = printed.lower().replace("-", " ")
    field.fill(typed)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{base}/invite/{code}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome to Portico")
    form = page.get_by_test_id("accept-form")
    expect(form.get_by_label("Email")).to_be_editable()  # a code carries no address
    expect(form.get_by_label("Email")).to_have_value("")
    expect(form.get_by_role("button", name="Create my account")).to_be_visible()
    assert Invitation.objects.get(pk=invitation_id).status == Invitation.Status.PENDING

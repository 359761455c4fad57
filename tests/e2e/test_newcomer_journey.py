"""A newcomer's first day, in a real browser: an admin prepares a group and two
projects, a resident signs up, verifies their address through the dev mailbox, and sees
exactly the projects open to them, before and after the admin adds them to the group."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import nav, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL = "demo.admin@city.example"
RESIDENT_EMAIL = "nora+north.avenue@mail.example"  # a "+" must survive every link
RESIDENT_PASSWORD = "Lantern-Harbour-1987"
GROUP = "North Avenue Residents"
RESTRICTED = "North Avenue bike lanes"
PUBLIC = "City budget 2027"

VERIFY_LINK = re.compile(r"https?://\S+/accounts/verify/[^/\s]+/")


def create_manual_group(page: Page, name: str) -> None:
    nav(page, "Groups")
    expect(page.get_by_role("heading", level=1)).to_have_text("Groups")
    page.get_by_role("link", name="New group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New group")
    page.get_by_label("Name").fill(name)
    page.get_by_role("radio", name="Manual").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    expect(page.get_by_role("status")).to_contain_text(f"Group “{name}” created.")


def create_project(page: Page, title: str, *, visibility: str, groups: tuple[str, ...] = ()):
    nav(page, "Manage projects")
    expect(page.get_by_role("heading", level=1)).to_have_text("Manage projects")
    page.get_by_role("link", name="New project").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New project")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill(f"What {title} is about.")
    page.get_by_role("radio", name=visibility, exact=True).check()
    for group in groups:
        page.get_by_role("checkbox", name=group, exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text(f"Project “{title}” created.")
    row = page.get_by_test_id("project-row").filter(has_text=title)
    expect(row).to_have_count(1)
    if groups:
        expect(row).to_contain_text(", ".join(groups))


def test_a_newcomer_signs_up_verifies_and_sees_the_projects_of_their_groups(
    page: Page, new_context, live_server
):
    base = live_server.url
    make_user(ADMIN_EMAIL, is_admin=True, first_name="Demo", last_name="Admin")

    # The admin signs in and prepares a group, a project for it and one for everyone.
    admin = page
    sign_in(admin, base, email=ADMIN_EMAIL, password=PASSWORD)
    expect(admin.get_by_test_id("current-user")).to_have_text("Demo Admin")
    create_manual_group(admin, GROUP)
    create_project(admin, RESTRICTED, visibility="Members of chosen groups", groups=(GROUP,))
    create_project(admin, PUBLIC, visibility="Everyone")

    # A resident, in a browser of their own, signs up.
    # (pytest-playwright's new_context closes it and keeps its trace on failure.)
    resident = new_context().new_page()
    resident.set_default_timeout(10_000)
    resident.goto(f"{base}/")
    resident.get_by_role("banner").get_by_role("link", name="Sign up").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("Create an account")
    form = resident.locator("main form")
    form.get_by_label("Email").fill(RESIDENT_EMAIL)
    form.get_by_label("First name").fill("Nora")
    form.get_by_label("Last name").fill("Newcomer")
    form.get_by_label("Password").fill(RESIDENT_PASSWORD)
    form.get_by_role("button", name="Sign up").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("Check your email")
    expect(resident.locator("main")).to_contain_text(RESIDENT_EMAIL)

    # Before verifying, signing in is refused.
    sign_in(resident, base, email=RESIDENT_EMAIL, password=RESIDENT_PASSWORD)
    expect(resident.get_by_role("alert")).to_contain_text("Please verify your email address first")
    expect(resident).to_have_url(re.compile(r"/accounts/sign-in/"))
    expect(resident.get_by_test_id("current-user")).to_have_count(0)

    # The admin finds the verification email in the dev mailbox.
    nav(admin, "Mailbox")
    expect(admin.get_by_role("heading", level=1)).to_have_text("Mailbox")
    mail = admin.get_by_test_id("mail-row").filter(has_text=RESIDENT_EMAIL)
    expect(mail).to_have_count(1)
    mail.get_by_role("link").click()
    expect(admin.get_by_test_id("mail-subject")).to_be_visible()
    body = admin.get_by_test_id("mail-text")
    expect(body).to_contain_text("/accounts/verify/")
    match = VERIFY_LINK.search(body.inner_text())
    assert match, body.inner_text()
    link = match.group(0)
    assert link.startswith(base + "/"), link

    # The resident follows the link, then signs in.
    resident.goto(link)
    expect(resident).to_have_url(re.compile(r"/accounts/sign-in/"))
    expect(resident.get_by_role("status")).to_contain_text("Your email address is verified")
    form = resident.locator("main form")
    expect(form.get_by_label("Email")).to_have_value(RESIDENT_EMAIL)
    form.get_by_label("Password").fill(RESIDENT_PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    expect(resident.get_by_test_id("current-user")).to_have_text("Nora Newcomer")

    # They see the project open to everyone, not the one of the group.
    expect(resident.get_by_role("heading", level=1)).to_have_text("Projects")
    projects = resident.get_by_test_id("project")
    expect(projects.filter(has_text=PUBLIC)).to_have_count(1)
    expect(projects.filter(has_text=RESTRICTED)).to_have_count(0)
    expect(projects).to_have_count(1)

    # The admin adds the resident to the group.
    nav(admin, "Groups")
    admin.get_by_test_id("group-row").filter(has_text=GROUP).get_by_role("link", name=GROUP).click()
    expect(admin.get_by_role("heading", level=1)).to_contain_text(GROUP)
    admin.get_by_label("Add members").fill(RESIDENT_EMAIL)
    admin.get_by_role("button", name="Add", exact=True).click()
    expect(admin.get_by_role("status")).to_contain_text("1 member added.")
    expect(admin.get_by_test_id("member-row").filter(has_text=RESIDENT_EMAIL)).to_have_count(1)

    # Reloading, the resident now sees the group's project too.
    resident.reload()
    projects = resident.get_by_test_id("project")
    expect(projects.filter(has_text=RESTRICTED)).to_have_count(1)
    expect(projects.filter(has_text=PUBLIC)).to_have_count(1)
    expect(projects).to_have_count(2)

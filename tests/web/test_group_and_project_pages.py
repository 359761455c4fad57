"""The admin pages of groups and projects, driven as an admin does: by posting their
forms. And the audit log page, which lists what was done and finds it again."""

from __future__ import annotations

import pytest
from django.test import Client

from portico.accounts.models import User
from portico.core.models import AuditEvent
from portico.groups.models import Group, Membership
from portico.groups.selectors import group_members
from portico.projects.models import Project
from tests.conftest import make_user


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def create_group(client: Client, name: str, kind: str = "manual", follow=False, **fields):
    return client.post(
        "/manage/groups/new/",
        {"name": name, "kind": kind, "description": "", **fields},
        follow=follow,
    )


def create_smart_group(client: Client, name: str, *rules: tuple[str, str], follow=False):
    fields = {}
    for n, (field, value) in enumerate(rules):
        fields[f"rule_field_{n}"] = field
        fields[f"rule_value_{n}"] = value
    return create_group(client, name, "smart", follow=follow, **fields)


def add_members(client: Client, group: Group, emails: str):
    return client.post(f"/manage/groups/{group.pk}/members/add/", {"emails": emails}, follow=True)


def audit_verbs(client: Client, query: str = "") -> list[str]:
    response = client.get("/manage/audit-log/", {"q": query} if query else {})
    assert response.status_code == 200
    return [event.verb for event in response.context["page"]]


@pytest.fixture
def neighbours(admin_client) -> Group:
    create_group(admin_client, "Neighbours", follow=True)  # and read its message
    return Group.objects.get(name="Neighbours")


@pytest.fixture
def residents(db) -> list[User]:
    return [
        make_user("rosa@mail.example"),
        make_user("Tom.Tenant@mail.example"),
    ]


# --- groups -----------------------------------------------------------------------------


def test_the_new_group_page_offers_both_kinds_and_the_rule_rows(admin_client):
    response = admin_client.get("/manage/groups/new/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="kind"' in html
    assert 'name="rule_field_0"' in html
    assert 'name="rule_value_2"' in html


def test_an_admin_creates_a_manual_group(admin, admin_client):
    response = create_group(admin_client, " Neighbours ", description="Our street")
    group = Group.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/manage/groups/{group.pk}/"
    assert (group.name, group.kind, group.description) == ("Neighbours", "manual", "Our street")
    event = AuditEvent.objects.get(verb="group.created")
    assert (event.actor, event.target_repr) == (admin, "Neighbours")
    page = admin_client.get(response["Location"])
    assert "Neighbours" in page.content.decode()
    assert "No members yet." in page.content.decode()


def test_the_group_page_refuses_a_name_taken_whatever_the_case(admin_client, neighbours):
    response = create_group(admin_client, "NEIGHBOURS")
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == ["A group with this name already exists."]
    assert Group.objects.count() == 1


def test_the_group_page_refuses_a_nameless_group(admin_client):
    response = create_group(admin_client, "")
    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    assert not Group.objects.exists()


def test_an_admin_creates_a_smart_group_with_normalised_rules(admin_client, residents):
    dutch_at_mail = make_user("nel@mail.example", language="nl-BE")
    response = create_smart_group(
        admin_client, "Dutch at mail", ("email_domain", "@Mail.Example"), ("language", "nl-be")
    )
    group = Group.objects.get()
    assert response.status_code == 302
    assert group.is_smart
    assert group.rules == [
        {"field": "email_domain", "value": "mail.example"},
        {"field": "language", "value": "nl-BE"},
    ]
    page = admin_client.get(f"/manage/groups/{group.pk}/")
    assert [m.email for m in page.context["page"]] == [dutch_at_mail.email]
    html = page.content.decode()
    assert "email_domain = mail.example" in html
    assert 'name="emails"' not in html  # no adding by hand


def test_the_group_page_refuses_a_smart_group_with_a_bad_rule(admin_client):
    response = create_smart_group(
        admin_client, "Odd", ("role", "admin"), ("email_domain", "not a domain")
    )
    assert response.status_code == 200
    assert any("Rule 2" in e for e in response.context["form"].non_field_errors())
    assert not Group.objects.exists()


def test_the_group_page_refuses_a_smart_group_without_rules(admin_client):
    response = create_smart_group(admin_client, "Empty")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["A smart group needs at least one rule."]
    assert not Group.objects.exists()


def test_an_admin_adds_members_by_typed_emails_and_hears_of_unknown_ones(
    admin_client, neighbours, residents
):
    response = add_members(
        admin_client,
        neighbours,
        "rosa@mail.example, TOM.TENANT@MAIL.EXAMPLE;\nnobody@nowhere.example  ghost@mail.example",
    )
    assert response.status_code == 200
    assert set(group_members(neighbours)) == set(residents)
    assert messages_of(response) == [
        "2 members added.",
        "No account for: ghost@mail.example, nobody@nowhere.example",
    ]
    assert len(response.context["page"]) == 2
    assert AuditEvent.objects.filter(verb="group.member_added").count() == 2


def test_adding_members_again_adds_nobody(admin_client, neighbours, residents):
    add_members(admin_client, neighbours, "rosa@mail.example")
    response = add_members(admin_client, neighbours, "rosa@mail.example\nROSA@mail.example")
    assert messages_of(response) == ["0 members added."]
    assert Membership.objects.filter(group=neighbours).count() == 1


def test_an_admin_cannot_add_members_to_a_smart_group(admin_client, residents):
    create_smart_group(admin_client, "Mail", ("email_domain", "mail.example"), follow=True)
    group = Group.objects.get()
    response = add_members(admin_client, group, "ada.admin@city.example")
    assert messages_of(response) == [
        "Members of a smart group follow its rules; they cannot be added or removed."
    ]
    assert not Membership.objects.exists()


def test_an_admin_removes_a_member(admin_client, neighbours, residents):
    add_members(admin_client, neighbours, "rosa@mail.example tom.tenant@mail.example")
    rosa = residents[0]
    response = admin_client.post(
        f"/manage/groups/{neighbours.pk}/members/{rosa.pk}/remove/", follow=True
    )
    assert messages_of(response) == ["rosa@mail.example removed from the group."]
    assert list(group_members(neighbours)) == [residents[1]]
    assert User.objects.filter(pk=rosa.pk).exists()
    assert AuditEvent.objects.filter(verb="group.member_removed").count() == 1


def test_removing_a_member_needs_a_post(admin_client, neighbours, residents):
    add_members(admin_client, neighbours, "rosa@mail.example")
    response = admin_client.get(f"/manage/groups/{neighbours.pk}/members/{residents[0].pk}/remove/")
    assert response.status_code == 405
    assert Membership.objects.filter(group=neighbours).count() == 1


def test_an_admin_renames_a_manual_group(admin_client, neighbours):
    response = admin_client.post(
        f"/manage/groups/{neighbours.pk}/edit/", {"name": "Street", "description": "Ours"}
    )
    assert response.status_code == 302
    neighbours.refresh_from_db()
    assert (neighbours.name, neighbours.description) == ("Street", "Ours")
    assert AuditEvent.objects.filter(verb="group.updated").count() == 1


def test_an_admin_changes_the_rules_of_a_smart_group(admin_client):
    create_smart_group(admin_client, "Mail", ("email_domain", "mail.example"))
    group = Group.objects.get()
    edit = admin_client.get(f"/manage/groups/{group.pk}/edit/")
    assert edit.context["rules_form"].initial == {
        "rule_field_0": "email_domain",
        "rule_value_0": "mail.example",
    }
    response = admin_client.post(
        f"/manage/groups/{group.pk}/edit/",
        {"name": "Mail", "rule_field_0": "role", "rule_value_0": "admin"},
    )
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.rules == [{"field": "role", "value": "admin"}]


def test_saving_a_smart_group_on_the_page_keeps_all_its_rules(admin, admin_client):
    # The API allows more rules than the page has rows: saving the page must not drop
    # the extra ones (which would open the group, and its projects, to more people).
    from portico.groups.services import group_create

    rules = [
        {"field": "email_domain", "value": "city.example"},
        {"field": "language", "value": "en"},
        {"field": "role", "value": "admin"},
        {"field": "role", "value": "moderator"},
    ]
    group = group_create(actor=admin, name="Narrow", kind="smart", rules=rules)
    page = admin_client.get(f"/manage/groups/{group.pk}/edit/")
    assert 'name="rule_field_3"' in page.content.decode()
    form = page.context["rules_form"]
    data = {"name": "Narrow, renamed", "description": ""}
    data.update({k: v for k, v in form.initial.items()})
    response = admin_client.post(f"/manage/groups/{group.pk}/edit/", data)
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.name == "Narrow, renamed"
    assert group.rules == rules


def test_an_admin_deletes_a_group_and_its_members_keep_their_accounts(
    admin, admin_client, neighbours, residents
):
    add_members(admin_client, neighbours, "rosa@mail.example")
    response = admin_client.post(f"/manage/groups/{neighbours.pk}/delete/", follow=True)
    assert response.redirect_chain == [("/manage/groups/", 302)]
    assert messages_of(response) == ["Group “Neighbours” deleted."]
    assert not Group.objects.exists()
    assert not Membership.objects.exists()
    assert User.objects.filter(pk=residents[0].pk).exists()
    event = AuditEvent.objects.get(verb="group.deleted")
    assert (event.actor, event.target_repr) == (admin, "Neighbours")


def test_the_groups_page_lists_groups_with_their_member_counts_and_finds_them(
    admin_client, neighbours, residents
):
    add_members(admin_client, neighbours, "rosa@mail.example tom.tenant@mail.example")
    create_smart_group(admin_client, "Admins", ("role", "admin"))
    response = admin_client.get("/manage/groups/")
    assert [g.name for g in response.context["groups"]] == ["Admins", "Neighbours"]
    counts = response.context["counts"]
    assert counts == {Group.objects.get(name="Admins").pk: 1, neighbours.pk: 2}
    found = admin_client.get("/manage/groups/", {"q": "neigh"})
    assert [g.name for g in found.context["groups"]] == ["Neighbours"]


# --- projects ---------------------------------------------------------------------------


def test_an_admin_creates_a_project_restricted_to_a_group(
    admin, admin_client, neighbours, residents
):
    add_members(admin_client, neighbours, "rosa@mail.example")
    response = admin_client.post(
        "/manage/projects/new/",
        {
            "title": "Neighbourhood garden",
            "description": "Let's plant",
            "visibility": "groups",
            "groups": [neighbours.pk],
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/manage/projects/"
    project = Project.objects.get()
    assert project.visibility == "groups"
    assert list(project.groups.all()) == [neighbours]
    event = AuditEvent.objects.get(verb="project.created")
    assert event.actor == admin
    assert event.details["groups"] == ["Neighbours"]

    rosa, tom = Client(), Client()
    rosa.force_login(residents[0])
    tom.force_login(residents[1])
    assert [p.title for p in rosa.get("/").context["projects"]] == ["Neighbourhood garden"]
    assert list(tom.get("/").context["projects"]) == []


def test_a_project_restricted_to_groups_needs_a_group(admin_client):
    response = admin_client.post(
        "/manage/projects/new/", {"title": "Nobody's", "visibility": "groups"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["groups"] == [
        "Choose at least one group that may see the project."
    ]
    assert not Project.objects.exists()


def test_an_admin_edits_a_project(admin, admin_client, neighbours, moderator):
    project = Project.objects.create(title="Garden", visibility="groups")
    project.groups.add(neighbours)
    form = admin_client.get(f"/manage/projects/{project.pk}/edit/").context["form"]
    assert form.initial["groups"] == [neighbours]
    response = admin_client.post(
        f"/manage/projects/{project.pk}/edit/",
        {
            "title": "Community garden",
            "description": "Open to all now",
            "visibility": "everyone",
            "groups": [neighbours.pk],
            "moderators": [moderator.pk],
        },
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.title, project.visibility) == ("Community garden", "everyone")
    assert list(project.groups.all()) == []  # groups only matter to group projects
    assert list(project.moderators.all()) == [moderator]
    updated = AuditEvent.objects.get(verb="project.updated")
    assert updated.actor == admin
    assert updated.details == {
        "title": "Community garden",
        "description": "Open to all now",
        "visibility": "everyone",
        "groups": [],
    }
    added = AuditEvent.objects.get(verb="project.moderator_added")
    assert added.details == {"user": moderator.email}


def test_an_admin_deletes_a_project(admin, admin_client):
    project = Project.objects.create(title="Old idea")
    response = admin_client.post(f"/manage/projects/{project.pk}/delete/", follow=True)
    assert response.redirect_chain == [("/manage/projects/", 302)]
    assert messages_of(response) == ["Project “Old idea” deleted."]
    assert not Project.objects.exists()
    event = AuditEvent.objects.get(verb="project.deleted")
    assert (event.actor, event.target_repr, event.details) == (
        admin,
        "Old idea",
        {"title": "Old idea"},
    )


def test_the_projects_page_lists_every_project_with_who_sees_it(
    admin_client, neighbours, moderator
):
    garden = Project.objects.create(title="Garden", visibility="groups")
    garden.groups.add(neighbours)
    response = admin_client.get("/manage/projects/")
    assert [p.title for p in response.context["projects"]] == ["Garden", "Moderated project"]
    html = response.content.decode()
    assert "Members of chosen groups: Neighbours" in html
    assert moderator.email in html


# --- the audit log ----------------------------------------------------------------------


@pytest.fixture
def history(admin_client, residents):
    """A day of an admin's work, done through the pages."""
    create_group(admin_client, "Neighbours")
    neighbours = Group.objects.get(name="Neighbours")
    add_members(admin_client, neighbours, "rosa@mail.example")
    admin_client.post(f"/manage/groups/{neighbours.pk}/members/{residents[0].pk}/remove/")
    admin_client.post(
        "/manage/projects/new/",
        {"title": "Garden", "visibility": "groups", "groups": [neighbours.pk]},
    )
    garden = Project.objects.get(title="Garden")
    admin_client.post(
        f"/manage/projects/{garden.pk}/edit/", {"title": "Big garden", "visibility": "everyone"}
    )
    admin_client.post(f"/manage/projects/{garden.pk}/delete/")
    admin_client.post(f"/manage/groups/{neighbours.pk}/delete/")


def test_the_audit_log_lists_the_actions_newest_first(admin_client, history):
    assert audit_verbs(admin_client) == [
        "group.deleted",
        "project.deleted",
        "project.updated",
        "project.created",
        "group.member_removed",
        "group.member_added",
        "group.created",
    ]
    html = admin_client.get("/manage/audit-log/").content.decode()
    assert "ada.admin@city.example" in html
    assert "user: rosa@mail.example" in html


def test_the_audit_log_search_filters_by_action(admin_client, history):
    assert audit_verbs(admin_client, "project.") == [
        "project.deleted",
        "project.updated",
        "project.created",
    ]
    assert audit_verbs(admin_client, "MEMBER") == ["group.member_removed", "group.member_added"]


def test_the_audit_log_search_filters_by_target(admin_client, history):
    assert audit_verbs(admin_client, "neighbours") == [
        "group.deleted",
        "group.member_removed",
        "group.member_added",
        "group.created",
    ]
    assert audit_verbs(admin_client, "big garden") == ["project.deleted", "project.updated"]


def test_the_audit_log_search_filters_by_person(admin_client, history, moderator):
    assert len(audit_verbs(admin_client, "ada.admin")) == 7
    assert audit_verbs(admin_client, "mo.moderator") == []


def test_the_audit_log_says_so_when_nothing_matches(admin_client, history):
    response = admin_client.get("/manage/audit-log/", {"q": "no such thing"})
    assert list(response.context["page"]) == []
    assert response.context["search"] == "no such thing"
    assert "Nothing recorded yet." in response.content.decode()


# --- only for admins ----------------------------------------------------------------------

ADMIN_PAGES = [
    "/manage/groups/",
    "/manage/groups/new/",
    "/manage/projects/",
    "/manage/projects/new/",
    "/manage/audit-log/",
]


@pytest.mark.parametrize("path", ADMIN_PAGES)
@pytest.mark.parametrize("persona", ["resident", "moderator"])
def test_the_group_project_and_audit_pages_are_refused_to_non_admins(request, persona, path):
    client = request.getfixturevalue(f"{persona}_client")
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_the_group_project_and_audit_pages_send_visitors_to_sign_in(anonymous_client, path):
    response = anonymous_client.get(path)
    assert response.status_code == 302
    assert "next=" in response["Location"]


def test_a_resident_cannot_create_a_group_by_posting_the_form(resident_client):
    response = create_group(resident_client, "Mine")
    assert response.status_code == 403
    assert not Group.objects.exists()

"""The admin pages of the invitations: Invite people, All invitations, resend, delete."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from portico.core.models import AuditEvent
from portico.groups.models import Group
from portico.invitations.models import Invitation, InvitationBatch, InvitationMessage
from tests.invitations.bulk import make_invitations

INVITE = "/manage/invitations/invite/"
LIST = "/manage/invitations/"
ROW = 'data-testid="invitation-row"'


@pytest.fixture
def north(db) -> Group:
    return Group.objects.create(name="North Avenue Residents")


def _invite_form(**overrides):
    data = {"emails": "", "language": "en", "message": ""}
    data.update(overrides)
    return data


def _rows(response) -> list[str]:
    """The HTML of each row of the invitations table."""
    html = response.content.decode()
    return html.split(ROW)[1:]


def _listed(response) -> list[str]:
    """The emails of the rows shown, in order (from the rendered table)."""
    emails = []
    for row in _rows(response):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        emails.append(re.sub(r"<[^>]+>", "", cells[1]).split()[0])
    return emails


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- Invite people -----------------------------------------------------------------------


def test_the_invite_page_shows_the_form(admin_client, north):
    response = admin_client.get(INVITE)
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("emails", "is_admin", "moderator", "groups", "language", "message"):
        assert f'name="{name}"' in html
    assert "North Avenue Residents" in html
    assert 'value="nl-BE"' in html


def test_an_admin_invites_typed_addresses_with_options(
    admin, admin_client, north, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            INVITE,
            _invite_form(
                emails="Nina Noord <nina@mail.example>, omar@mail.example;\npia@mail.example",
                is_admin="on",
                groups=[north.pk],
                language="nl-BE",
                message="Welkom bij het <em>buurtpanel</em>!",
            ),
            follow=True,
        )
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == LIST
    (counts, *_rest) = _messages(response)
    assert counts.startswith("Invited: 3. Registered users updated: 0.")
    assert "Invited: 3." in response.content.decode()

    invitations = Invitation.objects.order_by("email")
    assert [i.email for i in invitations] == [
        "nina@mail.example",
        "omar@mail.example",
        "pia@mail.example",
    ]
    for invitation in invitations:
        assert invitation.is_admin
        assert invitation.language == "nl-BE"
        assert list(invitation.groups.all()) == [north]
        assert invitation.message == "Welkom bij het <em>buurtpanel</em>!"
        assert invitation.inviter == admin
    assert (invitations[0].first_name, invitations[0].last_name) == ("Nina", "Noord")
    assert sorted(m.to[0] for m in mail.outbox) == [i.email for i in invitations]
    assert all("buurtpanel" in m.body for m in mail.outbox)
    assert all("nodigt u uit" in m.subject for m in mail.outbox)  # in Dutch
    assert _listed(response) == [i.email for i in Invitation.objects.all()]


def test_every_error_is_shown_with_its_position_and_nothing_is_stored(admin_client):
    response = admin_client.post(
        INVITE,
        _invite_form(
            emails="good@mail.example, not an email, dup@mail.example, DUP@mail.example, x@",
            message="Hello",
        ),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="batch-errors"' in html
    items = re.findall(r'<li data-code="([a-z_]+)">(.*?)</li>', html, flags=re.S)
    assert [code for code, _text in items] == ["invalid_email", "emails_duplicate", "invalid_email"]
    assert items[0][1].startswith("Address 2:")
    assert "not an email" in items[0][1]
    assert "dup@mail.example" in items[1][1]
    assert "3, 4" in items[1][1]
    assert items[2][1].startswith("Address 5:")
    assert "x@" in items[2][1]
    # The form keeps what the admin typed.
    assert (
        "not an email"
        in re.search(r"<textarea[^>]*name=\"emails\"[^>]*>(.*?)</textarea>", html, re.S)[1]
    )
    assert Invitation.objects.count() == 0
    assert InvitationBatch.objects.count() == 0
    assert InvitationMessage.objects.count() == 0
    assert not AuditEvent.objects.filter(verb__startswith="invitation.").exists()
    assert mail.outbox == []


def test_a_registered_user_and_a_pending_invitation_are_not_invited_twice(
    admin, admin_client, resident, north, django_capture_on_commit_callbacks
):
    (pending,) = make_invitations(1, inviter=admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            INVITE,
            _invite_form(emails=f"{resident.email}, {pending.email}", groups=[north.pk]),
            follow=True,
        )
    assert _messages(response)[0].startswith(
        "Invited: 0. Registered users updated: 1. Merged into pending invitations: 1."
    )
    assert mail.outbox == []
    assert north.members.filter(pk=resident.pk).exists()
    assert list(pending.groups.all()) == [north]


# --- All invitations ---------------------------------------------------------------------


@pytest.fixture
def people(admin):
    """Four invitations: two pending, one accepted, one expired, with distinct names."""
    invitations = make_invitations(4, inviter=admin)
    details = [
        ("nina@north.example", "Nina", "Noord", Invitation.Status.PENDING),
        ("omar@oak.example", "Omar", "Oak", Invitation.Status.ACCEPTED),
        ("pia@park.example", "Pia", "Noordhoek", Invitation.Status.PENDING),
        ("quinn@quay.example", "Quinn", "Adams", Invitation.Status.PENDING),
    ]
    for invitation, (email, first, last, status) in zip(invitations, details, strict=True):
        Invitation.objects.filter(pk=invitation.pk).update(
            email=email, first_name=first, last_name=last, status=status
        )
    # Past its expiry; the sweep has not marked it yet.
    Invitation.objects.filter(email="quinn@quay.example").update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    return {i.email: i for i in Invitation.objects.all()}


def test_the_list_shows_every_invitation_newest_first_with_its_code(admin_client, people):
    response = admin_client.get(LIST)
    assert response.status_code == 200
    assert _listed(response) == [
        "quinn@quay.example",
        "pia@park.example",
        "omar@oak.example",
        "nina@north.example",
    ]
    html = response.content.decode()
    assert "4 invitations" in html
    for invitation in people.values():
        assert invitation.token_display in html
    quinn = next(r for r in _rows(response) if "quinn@quay.example" in r)
    assert re.search(r'data-testid="status">\s*Expired', quinn)
    omar = next(r for r in _rows(response) if "omar@oak.example" in r)
    assert "/resend/" not in omar  # an accepted invitation cannot be resent


def test_search_by_name_or_email(admin_client, people):
    assert _listed(admin_client.get(LIST, {"q": "noord"})) == [
        "pia@park.example",
        "nina@north.example",
    ]
    assert _listed(admin_client.get(LIST, {"q": "OAK.example"})) == ["omar@oak.example"]
    assert _listed(admin_client.get(LIST, {"q": "  Quinn  "})) == ["quinn@quay.example"]
    response = admin_client.get(LIST, {"q": "nobody"})
    assert _listed(response) == []
    assert "No invitations match." in response.content.decode()


def test_filter_by_status(admin_client, people):
    assert _listed(admin_client.get(LIST, {"status": "pending"})) == [
        "pia@park.example",
        "nina@north.example",
    ]
    assert _listed(admin_client.get(LIST, {"status": "accepted"})) == ["omar@oak.example"]
    assert _listed(admin_client.get(LIST, {"status": "expired"})) == ["quinn@quay.example"]
    response = admin_client.get(LIST, {"status": "expired", "q": "noord"})
    assert _listed(response) == []
    assert '<option value="expired" selected>' in response.content.decode()


def test_sort(admin_client, people):
    def order(sort):
        return _listed(admin_client.get(LIST, {"sort": sort}))

    by_email = ["nina@north.example", "omar@oak.example", "pia@park.example", "quinn@quay.example"]
    assert order("email") == by_email
    assert order("-email") == by_email[::-1]
    by_name = ["quinn@quay.example", "nina@north.example", "pia@park.example", "omar@oak.example"]
    assert order("name") == by_name
    assert order("-name") == by_name[::-1]
    assert order("date") == by_email  # they were sent in that order
    assert order("-date") == by_email[::-1]
    assert order("bogus") == order("-date")
    assert order("status")[0] == "omar@oak.example"  # accepted comes first
    assert order("-status")[-1] == "omar@oak.example"
    # The header links sort by a column, then reverse it, keeping the search.
    html = admin_client.get(LIST, {"sort": "email", "q": "example"}).content.decode()
    assert 'href="?q=example&amp;status=&amp;sort=-email"' in html
    assert 'href="?q=example&amp;status=&amp;sort=name"' in html


def test_pages_of_fifty(admin, admin_client):
    make_invitations(120, inviter=admin)
    first = admin_client.get(LIST, {"sort": "email"})
    assert len(_rows(first)) == 50
    assert "Page 1 of 3" in first.content.decode()
    third = admin_client.get(LIST, {"sort": "email", "page": 3})
    assert len(_rows(third)) == 20
    assert _listed(third)[0] == "person00100@mail.example"
    assert _listed(third)[-1] == "person00119@mail.example"
    html = third.content.decode()
    assert "Page 3 of 3" in html
    assert "sort=email&amp;page=2" in html  # the previous-page link keeps the sort
    shown = {
        e for n in (1, 2, 3) for e in _listed(admin_client.get(LIST, {"sort": "email", "page": n}))
    }
    assert len(shown) == 120
    # Out-of-range and nonsense page numbers fall back to a real page.
    assert len(_rows(admin_client.get(LIST, {"page": 99}))) == 20
    assert len(_rows(admin_client.get(LIST, {"page": "x"}))) == 50


def test_paging_a_filtered_list(admin, admin_client):
    make_invitations(60, inviter=admin, status=Invitation.Status.ACCEPTED)
    make_invitations(70, prefix="open", inviter=admin)
    response = admin_client.get(LIST, {"status": "pending", "page": 2})
    assert _listed(response)
    assert all(e.startswith("open") for e in _listed(response))
    assert len(_rows(response)) == 20
    assert "status=pending" in response.content.decode().split('class="pagination"')[1]


def test_the_first_page_takes_a_bounded_number_of_queries(
    admin, admin_client, north, django_assert_max_num_queries
):
    invitations = make_invitations(2000, inviter=admin)
    Invitation.groups.through.objects.bulk_create(
        [Invitation.groups.through(invitation_id=i.pk, group_id=north.pk) for i in invitations]
    )
    with django_assert_max_num_queries(15):
        response = admin_client.get(LIST)
    assert response.status_code == 200
    assert len(_rows(response)) == 50
    with django_assert_max_num_queries(15):
        response = admin_client.get(LIST, {"q": "person", "status": "pending", "sort": "name"})
    assert len(_rows(response)) == 50


# --- Resend and delete -------------------------------------------------------------------


def test_resend_one(admin, admin_client, django_capture_on_commit_callbacks):
    (invitation,) = make_invitations(1, inviter=admin)
    old_expiry = invitation.expires_at
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{LIST}{invitation.pk}/resend/", follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert _messages(response) == [f"Invitation for {invitation.email} sent again."]
    assert [m.to for m in mail.outbox] == [[invitation.email]]
    invitation.refresh_from_db()
    assert invitation.expires_at > old_expiry


def test_resend_and_delete_need_post(admin, admin_client):
    (invitation,) = make_invitations(1, inviter=admin)
    assert admin_client.get(f"{LIST}{invitation.pk}/resend/").status_code == 405
    assert admin_client.get(f"{LIST}{invitation.pk}/delete/").status_code == 405
    assert admin_client.get(f"{LIST}resend/").status_code == 405
    assert admin_client.get(f"{LIST}delete/").status_code == 405
    assert Invitation.objects.count() == 1
    assert InvitationMessage.objects.count() == 0


def test_delete_one(admin, admin_client):
    first, second = make_invitations(2, inviter=admin)
    response = admin_client.post(f"{LIST}{first.pk}/delete/", follow=True)
    assert _messages(response) == ["Invitation deleted."]
    assert list(Invitation.objects.all()) == [second]
    response = admin_client.post(f"{LIST}{first.pk}/delete/", follow=True)
    assert _messages(response) == ["No such invitation."]


def test_resending_an_accepted_invitation_says_why_not(admin, admin_client):
    (invitation,) = make_invitations(1, inviter=admin, status=Invitation.Status.ACCEPTED)
    response = admin_client.post(f"{LIST}{invitation.pk}/resend/", follow=True)
    assert _messages(response) == ["This invitation has already been accepted."]
    assert InvitationMessage.objects.count() == 0


def test_bulk_resend_and_delete_by_selected_ids(
    admin, admin_client, django_capture_on_commit_callbacks
):
    invitations = make_invitations(5, inviter=admin)
    chosen = [invitations[0].pk, invitations[2].pk, 987654]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"{LIST}resend/",
            {"ids": chosen, "q": "person", "status": "pending", "sort": "email", "page": "1"},
            follow=True,
        )
    # Back to the same view of the list.
    assert response.redirect_chain[-1][0] == f"{LIST}?q=person&status=pending&sort=email&page=1"
    assert _messages(response) == ["2 invitations sent again.", "#987654: No such invitation."]
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [invitations[0].email, invitations[2].email]
    )

    response = admin_client.post(f"{LIST}delete/", {"ids": chosen}, follow=True)
    assert _messages(response) == ["2 invitations deleted.", "#987654: No such invitation."]
    assert sorted(Invitation.objects.values_list("pk", flat=True)) == sorted(
        i.pk for i in invitations if i.pk not in chosen
    )

    response = admin_client.post(f"{LIST}delete/", {"ids": ["x", ""]}, follow=True)
    assert _messages(response) == []
    assert Invitation.objects.count() == 3


# --- Who may -----------------------------------------------------------------------------


def _page_operations(invitation_id: int):
    return [
        ("get", INVITE, None),
        ("post", INVITE, _invite_form(emails="x@mail.example")),
        ("get", LIST, None),
        ("post", f"{LIST}{invitation_id}/resend/", {}),
        ("post", f"{LIST}{invitation_id}/delete/", {}),
        ("post", f"{LIST}resend/", {"ids": [invitation_id]}),
        ("post", f"{LIST}delete/", {"ids": [invitation_id]}),
    ]


def test_residents_are_refused(admin, resident_client, moderator_client):
    (invitation,) = make_invitations(1, inviter=admin)
    for client in (resident_client, moderator_client):
        for method, url, data in _page_operations(invitation.pk):
            response = getattr(client, method)(url, data) if data else getattr(client, method)(url)
            assert response.status_code == 403, (method, url)
            assert invitation.token_display not in response.content.decode()
    assert list(Invitation.objects.all()) == [invitation]
    assert InvitationMessage.objects.count() == 0


def test_visitors_are_sent_to_sign_in(admin, anonymous_client):
    (invitation,) = make_invitations(1, inviter=admin)
    for method, url, data in _page_operations(invitation.pk):
        response = (
            getattr(anonymous_client, method)(url, data)
            if data
            else getattr(anonymous_client, method)(url)
        )
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith("/accounts/sign-in/?next=")
    assert list(Invitation.objects.all()) == [invitation]
    assert InvitationMessage.objects.count() == 0

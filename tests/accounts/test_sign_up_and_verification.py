"""Sign-up, email verification, sign-in and -out, password reset, profile and the
sign-in rate limit: the public account pages, driven through the test client."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from django.core import mail
from django.test import Client
from django.utils import timezone

from portico.accounts.models import User
from portico.accounts.tokens import make_verification_token
from portico.core.models import AuditEvent
from tests.conftest import PASSWORD, make_user

NEW_PASSWORD = "a long passphrase 42"
SIGN_UP = {
    "email": "nina.new@mail.example",
    "first_name": "Nina",
    "last_name": "New",
    "language": "en",
    "password": NEW_PASSWORD,
}
VERIFY_LINK = re.compile(r"http://testserver(/accounts/verify/[^/\s\"]+/)")
RESET_LINK = re.compile(r"http://testserver(/accounts/reset/[^/\s\"]+/[^/\s\"]+/)")


def sign_up(client: Client, capture, **changes) -> object:
    """Post the sign-up form and run what the service queued after commit (the mail)."""
    with capture(execute=True):
        return client.post("/accounts/sign-up/", {**SIGN_UP, **changes})


def sign_in(client: Client, email: str, password: str = PASSWORD, **extra) -> object:
    return client.post("/accounts/sign-in/", {"email": email, "password": password}, **extra)


def signed_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def link_in(message, pattern: re.Pattern[str]) -> str:
    """The path of the one link matching ``pattern``, the same in the text and HTML parts."""
    in_text = pattern.findall(message.body)
    in_html = pattern.findall(message.alternatives[0].content)
    assert len(set(in_text)) == 1, message.body
    assert set(in_html) == set(in_text)
    return in_text[0]


def form_errors(response) -> list[str]:
    return list(response.context["form"].non_field_errors())


@pytest.fixture
def dutch_catalog(tmp_path, settings):
    """A Dutch (nl-BE) catalog that translates the verification email with markers, so
    that the test shows which language the email was rendered in, whatever the state
    of the real translations."""
    catalog = Catalog(locale="nl_BE", fuzzy=False)
    catalog.add(
        "Verify your email address for %(platform_name)s",
        "NL: bevestig uw e-mailadres voor %(platform_name)s",
        flags=["python-format"],
    )
    catalog.add("Hello %(name)s,", "NL: Hallo %(name)s,", flags=["python-format"])
    directory = tmp_path / "nl_BE" / "LC_MESSAGES"
    directory.mkdir(parents=True)
    with (directory / "django.mo").open("wb") as file:
        write_mo(file, catalog)
    settings.LOCALE_PATHS = [tmp_path, *settings.LOCALE_PATHS]


# Sign-up and the verification email


def test_signing_up_creates_an_unverified_account_and_mails_a_verification_link(
    db, django_capture_on_commit_callbacks
):
    response = sign_up(Client(), django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/sign-up/done/"
    user = User.objects.get(email="nina.new@mail.example")
    assert (user.first_name, user.last_name, user.language) == ("Nina", "New", "en")
    assert not user.email_verified
    assert user.check_password(NEW_PASSWORD)
    [message] = mail.outbox
    assert message.to == ["nina.new@mail.example"]
    assert message.subject == "Verify your email address for Portico"
    assert "Hello Nina," in message.body
    assert link_in(message, VERIFY_LINK).startswith("/accounts/verify/")


def test_the_sign_up_done_page_names_the_address_and_offers_a_new_link(
    db, django_capture_on_commit_callbacks
):
    client = Client()
    sign_up(client, django_capture_on_commit_callbacks)

    response = client.get("/accounts/sign-up/done/")

    assert response.status_code == 200
    assert "nina.new@mail.example" in response.text
    assert "/accounts/verify/resend/?email=nina.new%40mail.example" in response.text


def test_the_verification_email_is_in_the_language_chosen_at_sign_up(
    db, django_capture_on_commit_callbacks, dutch_catalog
):
    # The browser asks for English; the person chose Dutch (Belgium) for their account.
    sign_up(
        Client(headers={"accept-language": "en"}),
        django_capture_on_commit_callbacks,
        language="nl-BE",
    )

    assert User.objects.get(email="nina.new@mail.example").language == "nl-BE"
    [message] = mail.outbox
    assert message.subject == "NL: bevestig uw e-mailadres voor Portico"
    assert "NL: Hallo Nina," in message.body
    assert "NL: Hallo Nina," in message.alternatives[0].content


def test_an_english_sign_up_gets_the_english_email_while_dutch_exists(
    db, django_capture_on_commit_callbacks, dutch_catalog
):
    sign_up(Client(headers={"accept-language": "nl-be"}), django_capture_on_commit_callbacks)

    [message] = mail.outbox
    assert message.subject == "Verify your email address for Portico"


def test_signing_up_with_a_registered_address_in_another_case_is_refused(
    db, resident, django_capture_on_commit_callbacks
):
    response = sign_up(
        Client(), django_capture_on_commit_callbacks, email="RITA.Resident@MAIL.example"
    )

    assert response.status_code == 200
    assert response.context["error_code"] == "email_taken"
    assert response.context["form"].errors["email"] == [
        "An account with this email address already exists."
    ]
    assert User.objects.filter(email__iexact="rita.resident@mail.example").count() == 1
    assert mail.outbox == []


def test_signing_up_while_signed_in_leads_to_the_projects(resident_client):
    response = resident_client.post("/accounts/sign-up/", SIGN_UP)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert not User.objects.filter(email="nina.new@mail.example").exists()


# Verification


def test_an_unverified_account_cannot_sign_in_and_is_offered_a_new_link(
    db, django_capture_on_commit_callbacks
):
    client = Client()
    sign_up(client, django_capture_on_commit_callbacks)

    response = sign_in(client, "nina.new@mail.example", NEW_PASSWORD)

    assert response.status_code == 200
    assert signed_in_user_id(client) is None
    assert form_errors(response) == [
        "Please verify your email address first: follow the link in the email we sent you."
    ]
    assert "/accounts/verify/resend/?email=nina.new%40mail.example" in response.text


def test_the_offered_new_link_is_mailed_and_verifies_the_account(
    db, django_capture_on_commit_callbacks
):
    client = Client()
    sign_up(client, django_capture_on_commit_callbacks)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/verify/resend/", {"email": "Nina.New@mail.example"}, follow=True
        )

    assert response.redirect_chain == [("/accounts/sign-in/", 302)]
    [message] = mail.outbox
    assert message.to == ["nina.new@mail.example"]
    client.get(link_in(message, VERIFY_LINK))
    assert User.objects.get(email="nina.new@mail.example").email_verified


def test_asking_a_new_link_for_an_unknown_address_answers_the_same_and_sends_nothing(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            "/accounts/verify/resend/", {"email": "nobody@mail.example"}, follow=True
        )

    assert response.redirect_chain == [("/accounts/sign-in/", 302)]
    assert "a new verification link is on its way" in response.text
    assert mail.outbox == []


def test_following_the_link_verifies_the_account_which_can_then_sign_in(
    db, django_capture_on_commit_callbacks
):
    client = Client()
    sign_up(client, django_capture_on_commit_callbacks)
    link = link_in(mail.outbox[0], VERIFY_LINK)

    response = client.get(link)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/sign-in/?email=nina.new%40mail.example"
    user = User.objects.get(email="nina.new@mail.example")
    assert user.email_verified
    assert AuditEvent.objects.filter(verb="user.email_verified", target_id=str(user.pk)).exists()
    assert sign_in(client, "nina.new@mail.example", NEW_PASSWORD).status_code == 302
    assert signed_in_user_id(client) == str(user.pk)


def test_following_the_link_twice_is_harmless(db, django_capture_on_commit_callbacks):
    client = Client()
    sign_up(client, django_capture_on_commit_callbacks)
    link = link_in(mail.outbox[0], VERIFY_LINK)
    client.get(link)
    verified_at = User.objects.get(email="nina.new@mail.example").email_verified_at

    response = client.get(link)

    assert response.status_code == 302
    assert User.objects.get(email="nina.new@mail.example").email_verified_at == verified_at
    assert AuditEvent.objects.filter(verb="user.email_verified").count() == 1


def test_the_sign_in_form_after_verifying_holds_the_exact_address_even_with_a_plus(
    db, django_capture_on_commit_callbacks
):
    client = Client()
    sign_up(client, django_capture_on_commit_callbacks, email="nina+city@mail.example")

    response = client.get(link_in(mail.outbox[0], VERIFY_LINK), follow=True)

    assert response.context["form"]["email"].value() == "nina+city@mail.example"
    assert "Your email address is verified. You can sign in now." in response.text


def test_a_tampered_link_gives_the_failure_page_with_status_400(
    db, django_capture_on_commit_callbacks
):
    client = Client()
    sign_up(client, django_capture_on_commit_callbacks)
    link = link_in(mail.outbox[0], VERIFY_LINK)
    tampered = link[:-3] + ("A" if link[-3] != "A" else "B") + link[-2:]

    for path in (tampered, "/accounts/verify/not-a-token/"):
        response = client.get(path)

        assert response.status_code == 400
        assert "accounts/verify_failed.html" in [t.name for t in response.templates]
        assert "This verification link is invalid or has expired." in response.text
        assert "/accounts/verify/resend/" in response.text
    assert not User.objects.get(email="nina.new@mail.example").email_verified


def test_a_link_works_until_it_expires_and_then_gives_the_failure_page(
    db, settings, django_capture_on_commit_callbacks
):
    settings.PORTICO_EMAIL_VERIFICATION_TTL_DAYS = 3
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = Client()
        sign_up(client, django_capture_on_commit_callbacks)
    link = link_in(mail.outbox[0], VERIFY_LINK)

    with time_machine.travel(start + timedelta(days=3, minutes=1), tick=False):
        response = client.get(link)

    assert response.status_code == 400
    assert "This verification link is invalid or has expired." in response.text
    assert not User.objects.get(email="nina.new@mail.example").email_verified

    with time_machine.travel(start + timedelta(days=2, hours=23), tick=False):
        assert client.get(link).status_code == 302
    assert User.objects.get(email="nina.new@mail.example").email_verified


def test_a_link_for_an_address_that_has_since_changed_gives_the_failure_page(db):
    user = make_user("old.address@mail.example", verified=False)
    token = make_verification_token(user)
    User.objects.filter(pk=user.pk).update(email="new.address@mail.example")

    response = Client().get(f"/accounts/verify/{token}/")

    assert response.status_code == 400
    assert not User.objects.get(pk=user.pk).email_verified


# Sign-in and sign-out


def test_sign_in_works_whatever_the_case_of_the_email(resident):
    client = Client()

    response = sign_in(client, "  RITA.Resident@Mail.EXAMPLE ")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(client) == str(resident.pk)


def test_sign_in_goes_to_a_local_next_page_but_never_to_another_site(resident):
    local = Client().post(
        "/accounts/sign-in/?next=/accounts/profile/",
        {"email": resident.email, "password": PASSWORD, "next": "/accounts/profile/"},
    )
    offsite = Client().post(
        "/accounts/sign-in/",
        {"email": resident.email, "password": PASSWORD, "next": "https://evil.example/"},
    )

    assert local["Location"] == "/accounts/profile/"
    assert offsite["Location"] == "/"


def test_a_wrong_password_is_refused(resident):
    client = Client()

    response = sign_in(client, resident.email, "not the password")

    assert response.status_code == 200
    assert signed_in_user_id(client) is None
    assert form_errors(response) == ["This email and password do not match an account."]


def test_an_unknown_address_gets_the_same_answer_as_a_wrong_password(db):
    response = sign_in(Client(), "nobody@mail.example")

    assert response.status_code == 200
    assert form_errors(response) == ["This email and password do not match an account."]


def test_a_blocked_account_cannot_sign_in(db):
    blocked = make_user("blocked@mail.example", is_active=False)
    client = Client()

    response = sign_in(client, blocked.email)

    assert response.status_code == 200
    assert signed_in_user_id(client) is None


def test_sign_out_answers_only_post_and_signs_out(resident_client, resident):
    assert resident_client.get("/accounts/sign-out/").status_code == 405
    assert signed_in_user_id(resident_client) == str(resident.pk)

    response = resident_client.post("/accounts/sign-out/")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(resident_client) is None
    assert resident_client.get("/accounts/profile/").status_code == 302


# Password reset


def test_password_reset_mails_a_link_that_sets_a_new_password(
    resident, django_capture_on_commit_callbacks
):
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password-reset/", {"email": "Rita.Resident@mail.example"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"
    [message] = mail.outbox
    assert message.to == [resident.email]
    link = link_in(message, RESET_LINK)

    # Django swaps the token for a session entry, then shows the form.
    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"] is True
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert done.status_code == 302
    assert done["Location"] == "/accounts/reset/done/"
    resident.refresh_from_db()
    assert resident.check_password(NEW_PASSWORD)
    assert not resident.check_password(PASSWORD)
    assert sign_in(Client(), resident.email, NEW_PASSWORD).status_code == 302
    # The link is single use.
    assert client.get(link, follow=True).context["validlink"] is False


def test_password_reset_for_an_unknown_address_answers_the_same_and_sends_nothing(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/accounts/password-reset/", {"email": "nobody@mail.example"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []


# Profile


def test_the_profile_page_changes_names_and_language(resident_client, resident):
    response = resident_client.post(
        "/accounts/profile/",
        {"first_name": " Rita ", "last_name": "Résidente", "language": "fr-BE"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/profile/"
    resident.refresh_from_db()
    assert (resident.first_name, resident.last_name, resident.language) == (
        "Rita",
        "Résidente",
        "fr-BE",
    )
    page = resident_client.get("/accounts/profile/")
    assert '<html lang="fr-be">' in page.text
    assert page.context["form"].initial["language"] == "fr-BE"


def test_the_profile_page_refuses_a_language_of_another_platform(resident_client, resident):
    response = resident_client.post(
        "/accounts/profile/", {"first_name": "Rita", "last_name": "R", "language": "de"}
    )

    assert response.status_code == 200
    assert "language" in response.context["form"].errors
    resident.refresh_from_db()
    assert resident.language == "en"


def test_the_profile_page_needs_a_signed_in_person(anonymous_client, db):
    response = anonymous_client.get("/accounts/profile/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/sign-in/?next=/accounts/profile/"


# Rate limit


@pytest.fixture
def sign_in_limit_of_two(settings):
    settings.PORTICO_RATE_LIMITS = {**settings.PORTICO_RATE_LIMITS, "sign_in": "2/m"}
    # A fixed window: keep the clock still so that no test crosses a minute boundary.
    with time_machine.travel(timezone.now().replace(second=5), tick=False):
        yield


RATE_LIMITED = re.compile(r"^Too many attempts\. Please try again in (1 second|\d+ seconds)\.$")


def test_sign_in_answers_with_the_rate_limit_message_past_the_limit(resident, sign_in_limit_of_two):
    client = Client()
    for _attempt in range(2):
        assert form_errors(sign_in(client, resident.email, "wrong")) == [
            "This email and password do not match an account."
        ]

    # Even the right password is not checked while the limit holds.
    response = sign_in(client, resident.email)

    assert response.status_code == 200
    [error] = form_errors(response)
    assert RATE_LIMITED.match(error)
    assert signed_in_user_id(client) is None


def test_the_sign_in_limit_also_counts_per_address_across_ip_addresses(
    resident, sign_in_limit_of_two
):
    for number in range(2):
        sign_in(Client(), resident.email.upper(), "wrong", REMOTE_ADDR=f"203.0.113.{number}")

    response = sign_in(Client(), resident.email, REMOTE_ADDR="203.0.113.99")

    [error] = form_errors(response)
    assert RATE_LIMITED.match(error)


def test_the_sign_in_limit_leaves_other_people_alone(resident, admin, sign_in_limit_of_two):
    for _attempt in range(3):
        sign_in(Client(), resident.email, "wrong", REMOTE_ADDR="203.0.113.1")

    assert sign_in(Client(), admin.email, REMOTE_ADDR="203.0.113.2").status_code == 302

"""Management commands of the accounts app: the first admin and API tokens from a shell."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from portico.accounts.models import ApiToken, User, hash_api_token
from portico.core.models import AuditEvent


def test_createsuperuser_noinput_creates_a_verified_platform_admin_from_the_environment(
    db, monkeypatch
):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Root.Admin@City.Example")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long admin passphrase 7")

    call_command("createsuperuser", "--noinput", stdout=StringIO())

    user = User.objects.get(email__iexact="root.admin@city.example")
    assert user.email == "Root.Admin@city.example"  # the domain is lower-cased
    assert user.is_admin
    assert user.email_verified
    assert user.is_active
    assert user.check_password("a long admin passphrase 7")
    client = Client()
    response = client.post(
        "/accounts/sign-in/",
        {"email": "root.admin@city.example", "password": "a long admin passphrase 7"},
    )
    assert response.status_code == 302
    assert client.get("/manage/users/").status_code == 200


def test_createsuperuser_refuses_an_address_already_registered_in_another_case(
    resident, monkeypatch
):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "RITA.RESIDENT@mail.example")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long admin passphrase 7")

    with pytest.raises(CommandError):
        call_command("createsuperuser", "--noinput", stdout=StringIO(), stderr=StringIO())

    assert User.objects.filter(email__iexact=resident.email).count() == 1
    resident.refresh_from_db()
    assert not resident.is_admin


def test_create_api_token_prints_a_token_that_authenticates_against_the_api(admin):
    out = StringIO()

    call_command("create_api_token", "ADA.ADMIN@city.example", "--name", "CRM sync", stdout=out)

    raw = out.getvalue().strip()
    token = ApiToken.objects.get(user=admin)
    assert token.name == "CRM sync"
    assert token.token_hash == hash_api_token(raw)
    assert AuditEvent.objects.filter(verb="api_token.created", target_id=str(token.pk)).exists()
    response = Client().get("/api/v1/users", headers={"authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_create_api_token_for_an_unknown_address_fails_and_creates_nothing(db):
    with pytest.raises(CommandError, match=r"No account uses nobody@mail\.example"):
        call_command("create_api_token", "nobody@mail.example", stdout=StringIO())

    assert not ApiToken.objects.exists()

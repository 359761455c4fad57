"""The fixed cast of the test suite: an admin, a moderator, a resident and an outsider
(anonymous), and clients signed in as each."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from portico.accounts.models import User

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # Rate-limit counters live in the cache; each test starts with none.
    cache.clear()
    yield
    cache.clear()


def make_user(email: str, *, is_admin: bool = False, verified: bool = True, **fields) -> User:
    return User.objects.create_user(
        email,
        PASSWORD,
        is_admin=is_admin,
        email_verified_at=timezone.now() if verified else None,
        **fields,
    )


@pytest.fixture
def admin(db) -> User:
    return make_user("ada.admin@city.example", is_admin=True, first_name="Ada", last_name="Admin")


@pytest.fixture
def resident(db) -> User:
    return make_user("rita.resident@mail.example", first_name="Rita", last_name="Resident")


@pytest.fixture
def moderator(db) -> User:
    """Moderates one project, "Moderated project" (created here)."""
    from portico.projects.models import Project

    user = make_user("mo.moderator@mail.example", first_name="Mo", last_name="Moderator")
    project = Project.objects.create(
        title="Moderated project", visibility=Project.Visibility.ADMINS
    )
    project.moderators.add(user)
    return user


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin) -> Client:
    return _client_for(admin)


@pytest.fixture
def resident_client(resident) -> Client:
    return _client_for(resident)


@pytest.fixture
def moderator_client(moderator) -> Client:
    return _client_for(moderator)


@pytest.fixture
def anonymous_client() -> Client:
    return Client()

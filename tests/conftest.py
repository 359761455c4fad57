"""The fixed cast of the test suite: an admin, a moderator, a resident and an outsider
(anonymous), and clients signed in as each."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.test.signals import setting_changed
from django.utils import timezone

from portico.accounts.models import User

PASSWORD = "correct horse battery staple"


def _compile_if_stale(po: Path) -> bool:
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        return False
    with po.open("rb") as fileobj:
        catalog = read_po(fileobj, locale=po.parent.parent.name)
    # Written aside and moved into place: parallel test workers never see half a file.
    fd, tmp = tempfile.mkstemp(dir=po.parent, prefix=".django-", suffix=".mo")
    try:
        with os.fdopen(fd, "wb") as fileobj:
            write_mo(fileobj, catalog)
        os.replace(tmp, mo)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


@pytest.fixture(scope="session", autouse=True)
def _no_stray_connections_at_teardown(django_db_setup, django_db_blocker):
    """Lets the test database be dropped at the end on PostgreSQL.

    Playwright's sync API keeps an asyncio event loop in the main thread once the
    browser journeys have run; Django's connections are context-local, so tests that
    run afterwards can open a connection in a context that pytest-django never closes,
    and PostgreSQL refuses to drop a database that is "being accessed by other users".
    Whatever is still connected when the suite ends is idle: it is ended here."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalogs():
    """Compiles missing or stale .mo files (`make messages` does it too), so that
    `pytest` alone works, then makes Django reload catalogs it may have cached."""
    catalogs = sorted(Path(settings.LOCALE_PATHS[0]).glob("*/LC_MESSAGES/django.po"))
    if any([_compile_if_stale(po) for po in catalogs]):
        setting_changed.send(
            sender=type(settings), setting="LOCALE_PATHS", value=settings.LOCALE_PATHS, enter=True
        )


@pytest.fixture(autouse=True)
def _uploads_in_a_temporary_folder(settings, tmp_path):
    # Uploaded spreadsheets are written to MEDIA_ROOT: never into the checkout's var/.
    settings.MEDIA_ROOT = tmp_path / "uploads"


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

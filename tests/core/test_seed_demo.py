"""`make run` creates a demo platform on first run, and only then."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from portico.accounts.models import User
from portico.groups.models import Group
from portico.projects.models import Project


def test_it_creates_the_demo_platform_once_and_prints_the_admins_sign_in(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first, second = StringIO(), StringIO()

    call_command("seed_demo", stdout=first)
    call_command("seed_demo", stdout=second)

    admin = User.objects.get(email="admin@portico.localhost")
    password = (tmp_path / "demo-admin-password.txt").read_text().strip()
    assert admin.is_admin
    assert admin.email_verified
    assert admin.check_password(password)
    assert password in first.getvalue()
    assert password in second.getvalue()
    assert User.objects.count() == 1
    kinds = sorted(Group.objects.values_list("kind", flat=True))
    assert kinds == ["manual", "manual", "smart"]
    assert sorted(Project.objects.values_list("visibility", flat=True)) == [
        "admins",
        "everyone",
        "groups",
    ]

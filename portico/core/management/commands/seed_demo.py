"""Creates the demo platform on first run (idempotent): an admin account, a few manual
groups, one smart group and projects of each visibility. Prints how to sign in."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.management import BaseCommand
from django.db import transaction
from django.utils import timezone

from portico.accounts.models import User
from portico.groups.models import Group
from portico.groups.services import group_create
from portico.projects.models import Project
from portico.projects.services import project_create

ADMIN_EMAIL = "admin@portico.localhost"


class Command(BaseCommand):
    help = "Create the demo platform (admin, groups, projects) if it does not exist yet."

    def handle(self, *args, **options):
        password_file = settings.VAR_DIR / "demo-admin-password.txt"
        admin = User.objects.filter(email__iexact=ADMIN_EMAIL).first()
        if admin is None:
            password = secrets.token_urlsafe(12)
            with transaction.atomic():
                admin = User.objects.create_superuser(
                    ADMIN_EMAIL,
                    password,
                    first_name="Demo",
                    last_name="Admin",
                    email_verified_at=timezone.now(),
                )
                self._create_platform(admin)
            settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        password = (
            password_file.read_text().strip()
            if password_file.exists()
            else "(set on first run; change it with: manage.py changepassword " + ADMIN_EMAIL + ")"
        )
        self.stdout.write(self.style.SUCCESS(f"Demo admin: {ADMIN_EMAIL}  password: {password}"))

    def _create_platform(self, admin: User) -> None:
        north = group_create(
            actor=admin,
            name="North Avenue Residents",
            description="Residents of North Avenue and its side streets.",
        )
        group_create(actor=admin, name="Youth Council", description="Members aged 16 to 25.")
        group_create(
            actor=admin,
            name="City staff",
            kind=Group.Kind.SMART,
            description="Everyone with a city.example address.",
            rules=[{"field": "email_domain", "value": "city.example"}],
        )
        project_create(
            actor=admin,
            title="A greener central park",
            description="Tell us what the central park needs.",
            visibility=Project.Visibility.EVERYONE,
        )
        project_create(
            actor=admin,
            title="Budget priorities (draft)",
            description="Preparing next year's participatory budget.",
            visibility=Project.Visibility.ADMINS,
        )
        project_create(
            actor=admin,
            title="North Avenue traffic plan",
            description="Slower traffic and safer crossings on North Avenue.",
            visibility=Project.Visibility.GROUPS,
            groups=[north],
        )

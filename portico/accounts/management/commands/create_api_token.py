from __future__ import annotations

from django.core.management import BaseCommand, CommandError

from portico.accounts.models import User, normalize_email
from portico.accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create a personal API token for the user with EMAIL and print it (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default="Command line")

    def handle(self, *args, email: str, name: str, **options):
        user = User.objects.filter(email__iexact=normalize_email(email)).first()
        if user is None:
            raise CommandError(f"No account uses {email}.")
        _token, raw = api_token_create(actor=user, user=user, name=name)
        self.stdout.write(raw)

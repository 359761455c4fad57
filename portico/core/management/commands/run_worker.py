"""The background worker: runs queued tasks (the database backend's ``db_worker``) and,
every ``PORTICO_SWEEP_INTERVAL`` seconds, the registered periodic sweeps.

Tasks and sweeps run in this one process, never under an autoreloader (``db_worker``
turns one on when DEBUG is set): its parent would keep sweeping with the code it
started with next to the reloaded child, and a code edit would kill a running task.
Restart the worker to pick up a change."""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.management import BaseCommand, call_command
from django.db import close_old_connections
from django.utils import timezone

from portico.core.sweeps import run_sweeps


class Command(BaseCommand):
    help = "Run queued tasks and the periodic sweeps (reminders, expiry)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-sweeps",
            action="store_true",
            help="Only run tasks; another worker runs the sweeps.",
        )

    def handle(self, *args, **options):
        stop = threading.Event()
        if not options["no_sweeps"]:
            threading.Thread(
                target=self._sweep_loop, args=(stop,), daemon=True, name="portico-sweeps"
            ).start()
        try:
            call_command("db_worker", reload=False, verbosity=options["verbosity"])
        finally:
            stop.set()

    def _sweep_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            close_old_connections()
            results = run_sweeps(now=timezone.now())
            if any(results.values()):
                self.stdout.write(f"sweeps: {results}")
            close_old_connections()
            stop.wait(settings.PORTICO_SWEEP_INTERVAL)

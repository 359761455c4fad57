"""What the benchmarks share: Django set up on a throw-away database."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable


def start_django() -> Callable[[], None]:
    """Set Django up on a throw-away database of the kind DATABASE_URL names (see
    ``import_100k.prepare_database``), migrated, with tasks left undone, uploads in a
    temporary folder and the test client's host allowed. Returns the cleanup, which
    drops the database and the folder."""
    from import_100k import prepare_database

    url, drop_database = prepare_database()
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portico.settings")
    os.environ["TASKS_BACKEND"] = "django.tasks.backends.dummy.DummyBackend"
    media = tempfile.TemporaryDirectory()
    os.environ["MEDIA_ROOT"] = media.name
    os.environ["ALLOWED_HOSTS"] = "testserver"

    def cleanup() -> None:
        drop_database()
        media.cleanup()

    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    except BaseException:
        cleanup()
        raise
    return cleanup

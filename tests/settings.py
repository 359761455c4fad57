"""Test settings: the real settings with fast password hashing, tasks run inline
(django.tasks' Immediate backend) and mail kept in memory (``mail.outbox``).

Tests that need the real worker or the dev mailbox override these per test."""

from portico.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
PORTICO_MAILBOX = True
BASE_URL = "http://testserver"
ALLOWED_HOSTS = ["*"]
STATIC_URL = "/static/"

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A database file, as in production, rather than Django's shared-cache in-memory
    # default: there a second writer fails at once with "database table is locked"
    # instead of waiting (busy timeout), so concurrency tests could not run on SQLite.
    # One file per process, so that parallel runs (xdist, several checkouts) never meet;
    # removed with its WAL files when the process ends.
    import atexit as _atexit
    import contextlib as _contextlib
    import glob as _glob
    import os as _os
    import tempfile as _tempfile

    _TEST_DB = _os.path.join(_tempfile.gettempdir(), f"portico-test-{_os.getpid()}.sqlite3")
    DATABASES["default"]["TEST"] = {"NAME": _TEST_DB}  # noqa: F405

    def _remove_test_db_files() -> None:
        for path in _glob.glob(_glob.escape(_TEST_DB) + "*"):
            with _contextlib.suppress(OSError):
                _os.remove(path)

    _atexit.register(_remove_test_db_files)

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

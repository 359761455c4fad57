"""A deployment with the development key is refused by `check --deploy`."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from portico.core.checks import check_secret_keys


def test_the_development_key_fails_the_deploy_check(settings, db):
    settings.SECRET_KEY = settings.DEVELOPMENT_SECRET_KEY

    assert [e.id for e in check_secret_keys(None)] == ["portico.E001"]
    with pytest.raises(SystemCheckError, match=r"portico\.E001"):
        call_command("check", "--deploy", "--fail-level", "ERROR")


def test_a_key_of_its_own_passes(settings):
    settings.SECRET_KEY = "a-long-random-production-key-" + "x" * 40

    assert check_secret_keys(None) == []

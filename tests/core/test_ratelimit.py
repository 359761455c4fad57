"""Rate limits count per client address: the connection's, or behind a reverse proxy the
one the proxy names in PORTICO_TRUSTED_PROXY_HEADER."""

from __future__ import annotations

import runpy

import pytest
from django.test import RequestFactory

import portico.settings
from portico.core.ratelimit import client_ip


def _request(**meta):
    return RequestFactory().get("/invite/", REMOTE_ADDR="10.0.0.2", **meta)


def _settings_module_with(monkeypatch, **environ) -> dict:
    """portico/settings.py as it reads this environment (run afresh, not imported)."""
    for name, value in environ.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return runpy.run_path(portico.settings.__file__)


def test_the_trusted_proxy_header_is_read_from_the_environment(monkeypatch):
    configured = _settings_module_with(
        monkeypatch, PORTICO_TRUSTED_PROXY_HEADER="HTTP_X_FORWARDED_FOR"
    )

    assert configured["PORTICO_TRUSTED_PROXY_HEADER"] == "HTTP_X_FORWARDED_FOR"


def test_no_proxy_header_is_trusted_by_default(monkeypatch):
    configured = _settings_module_with(monkeypatch, PORTICO_TRUSTED_PROXY_HEADER=None)

    assert configured["PORTICO_TRUSTED_PROXY_HEADER"] == ""


@pytest.mark.parametrize("written", ["X-Forwarded-For", " http_x_forwarded_for "])
def test_the_header_may_be_written_as_its_name(monkeypatch, written):
    configured = _settings_module_with(monkeypatch, PORTICO_TRUSTED_PROXY_HEADER=written)

    assert configured["PORTICO_TRUSTED_PROXY_HEADER"] == "HTTP_X_FORWARDED_FOR"


def test_without_a_trusted_header_the_address_is_the_connections(settings):
    settings.PORTICO_TRUSTED_PROXY_HEADER = ""

    assert client_ip(_request(HTTP_X_FORWARDED_FOR="203.0.113.9")) == "10.0.0.2"


def test_behind_a_proxy_the_address_is_the_one_the_proxy_names(settings):
    settings.PORTICO_TRUSTED_PROXY_HEADER = "HTTP_X_FORWARDED_FOR"

    assert client_ip(_request(HTTP_X_FORWARDED_FOR="203.0.113.9")) == "203.0.113.9"


def test_an_address_the_client_wrote_before_the_proxys_is_ignored(settings):
    # A proxy that appends (nginx's $proxy_add_x_forwarded_for) keeps what the client
    # sent in front of the address it saw; only the last one is the proxy's word.
    settings.PORTICO_TRUSTED_PROXY_HEADER = "HTTP_X_FORWARDED_FOR"

    request = _request(HTTP_X_FORWARDED_FOR="198.51.100.77, 203.0.113.9")

    assert client_ip(request) == "203.0.113.9"


def test_a_request_without_the_header_counts_under_the_connections_address(settings):
    settings.PORTICO_TRUSTED_PROXY_HEADER = "HTTP_X_REAL_IP"

    assert client_ip(_request()) == "10.0.0.2"


def test_behind_a_proxy_each_client_has_its_own_limit(settings, client, db):
    settings.PORTICO_TRUSTED_PROXY_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.PORTICO_RATE_LIMITS = {**settings.PORTICO_RATE_LIMITS, "token_lookup": "2/m"}
    proxy = {"REMOTE_ADDR": "10.0.0.2"}

    def look_up(address: str) -> int:
        url = "/api/v1/invites/7KQ2M9XD4HTBRW"
        return client.get(url, HTTP_X_FORWARDED_FOR=address, **proxy).status_code

    assert [look_up("203.0.113.9") for _ in range(3)][-1] == 429
    assert look_up("203.0.113.10") != 429

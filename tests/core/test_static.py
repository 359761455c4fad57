"""Every page depends on the stylesheet and on htmx (the import's live progress)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/static/portico/portico.css", "/static/portico/htmx.min.js"])
def test_the_pages_assets_are_served(client, path):
    response = client.get(path)

    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert len(body) > 1000


def test_pages_link_the_served_assets(client, db):
    page = client.get("/accounts/sign-in/").content.decode()

    assert 'href="/static/portico/portico.css"' in page
    assert 'src="/static/portico/htmx.min.js"' in page

"""Oversized uploads are refused from their announced size, before they are read."""

from __future__ import annotations

import json

from django.contrib.messages.storage import default_storage
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import RequestFactory

from portico.core.middleware import UploadSizeLimitMiddleware


def _never_called(request):
    raise AssertionError("the request went through")


def _multipart(path: str, length: int):
    request = RequestFactory().generic(
        "POST", path, data=b"--x--", content_type="multipart/form-data; boundary=x"
    )
    request.META["CONTENT_LENGTH"] = str(length)
    return request


def test_an_api_upload_over_the_limit_answers_413_with_the_error_body(settings):
    settings.PORTICO_UPLOAD_MAX_MB = 1
    response = UploadSizeLimitMiddleware(_never_called)(
        _multipart("/api/v1/invitations/imports", 5 * 1024 * 1024)
    )

    assert response.status_code == 413
    assert json.loads(response.content)["errors"][0]["code"] == "file_too_large"


def test_a_page_upload_over_the_limit_returns_to_its_form_with_the_message(
    settings, admin, admin_client
):
    """Not a bare error text in place of the page: the form again, the message above it,
    in the admin's language; nothing of the body read (its announced size suffices)."""
    settings.PORTICO_UPLOAD_MAX_MB = 1
    admin.language = "fr-BE"
    admin.save(update_fields=["language"])
    response = admin_client.generic(
        "POST",
        "/manage/invitations/import/",
        data=b"--x--",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(5 * 1024 * 1024),
    )
    assert (response.status_code, response["Location"]) == (303, "/manage/invitations/import/")

    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert "Le fichier dépasse 1 Mo." in text
    assert 'type="file"' in text


def test_uploads_within_the_limit_go_through(settings):
    settings.PORTICO_UPLOAD_MAX_MB = 20
    seen = []
    middleware = UploadSizeLimitMiddleware(lambda request: seen.append(request) or "ok")

    assert middleware(_multipart("/api/v1/invitations/imports", 1024)) == "ok"
    assert len(seen) == 1


def test_the_way_back_never_leads_to_another_site(settings):
    """A path that starts with two slashes (nothing has resolved it yet) is escaped, as
    CommonMiddleware does: a browser would read "//evil.example/x" as another site."""
    settings.PORTICO_UPLOAD_MAX_MB = 1
    request = _multipart("/x", 5 * 1024 * 1024)
    request.path = request.path_info = "//evil.example/x"
    SessionMiddleware(_never_called).process_request(request)
    request._messages = default_storage(request)
    response = UploadSizeLimitMiddleware(_never_called)(request)
    assert response.status_code == 303
    assert response["Location"] == "/%2Fevil.example/x"

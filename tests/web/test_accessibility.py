"""What keyboard and screen-reader users need on every page and on the admin forms: a
"Skip to content" link first, a language switcher that waits for its button, groups of
checkboxes named by a legend, and hints tied to their fields."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from portico.groups.models import Group
from portico.projects.models import Project

pytestmark = pytest.mark.django_db

FOCUSABLE = re.compile(r"<(a|button|select|textarea|input)\b([^>]*)>")


def _html(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _focusables(html: str) -> list[str]:
    """The opening tags of the body's focusable elements, in document order."""
    body = html[html.index("<body") :]
    tags = []
    for match in FOCUSABLE.finditer(body):
        tag, attributes = match.groups()
        if tag == "input" and 'type="hidden"' in attributes:
            continue
        if tag == "a" and "href=" not in attributes:
            continue
        tags.append(match.group(0))
    return tags


def _element_text(html: str, element_id: str) -> str:
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no element with id {element_id}"
    return re.sub(r"\s+", " ", match.group(2)).strip()


def _fieldset_with_legend(html: str, legend: str) -> str:
    for match in re.finditer(r"<fieldset\b[^>]*>(.*?)</fieldset>", html, re.S):
        if re.search(rf"<legend[^>]*>\s*{re.escape(legend)}\s*</legend>", match.group(1)):
            return match.group(1)
    raise AssertionError(f"no fieldset with the legend {legend!r}")


@pytest.fixture
def choices(db):
    Group.objects.create(name="North Avenue Residents")
    Group.objects.create(name="Garden club")
    Project.objects.create(title="Community garden", visibility=Project.Visibility.ADMINS)


@pytest.mark.parametrize("who", ["anonymous_client", "admin_client"])
def test_skip_to_content_is_the_first_focusable_element(request, who):
    html = _html(request.getfixturevalue(who), "/")
    first = _focusables(html)[0]
    assert 'href="#main"' in first
    assert 'class="skip-link"' in first
    assert re.search(r">\s*Skip to content\s*</a>", html[html.index(first) :])
    assert re.search(r'<main\b[^>]*\bid="main"', html)


def test_the_language_switcher_changes_language_only_with_its_button(anonymous_client):
    html = _html(anonymous_client, "/")
    form = re.search(
        r'<form action="[^"]*" method="post" class="inline language-switcher">(.*?)</form>',
        html,
        re.S,
    ).group(1)
    assert "onchange" not in form  # moving through the options must not leave the page
    assert "<noscript>" not in form  # the button is there for everyone
    assert re.search(r'<select id="language-switcher" name="language">', form)
    assert re.search(r'<button type="submit"[^>]*>\s*Change\s*</button>', form)
    assert 'name="next"' in form


def test_the_switcher_still_changes_the_language(anonymous_client):
    response = anonymous_client.post(
        reverse("core:set-language"), {"language": "fr-be", "next": "/"}, follow=True
    )
    assert 'lang="fr-be"' in response.content.decode()


@pytest.mark.parametrize("url", ["web:invite", "web:import-file", "web:generate-codes"])
def test_checkbox_lists_are_fieldsets_named_by_a_legend(admin_client, choices, url):
    html = _html(admin_client, reverse(url))
    groups = _fieldset_with_legend(html, "Add to groups:")
    assert len(re.findall(r'<input type="checkbox" name="groups"', groups)) == 2
    assert len(re.findall(r'<input type="checkbox" name="groups"', html)) == 2  # all inside
    projects = _fieldset_with_legend(html, "Projects to moderate:")
    assert len(re.findall(r'<input type="checkbox" name="projects"', projects)) == 1
    # The groups' hint describes the whole group of boxes.
    fieldset = re.search(r"<fieldset\b([^>]*)>(?:(?!</fieldset>).)*Add to groups:", html, re.S)
    described_by = re.search(r'aria-describedby="([^"]+)"', fieldset.group(1)).group(1)
    assert _element_text(html, described_by).startswith("Smart groups follow their rules")


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("web:import-file", "The template filled in (.xlsx), or a CSV file"),
        ("web:generate-codes", "One row per code, the email cell left empty"),
    ],
)
def test_the_file_fields_format_hint_describes_the_field(admin_client, url, hint):
    html = _html(admin_client, reverse(url))
    field = re.search(r'<input type="file" name="file"[^>]*>', html).group(0)
    described_by = re.search(r'aria-describedby="([^"]+)"', field).group(1)
    assert _element_text(html, described_by).startswith(hint)


def test_every_hint_on_the_invite_form_belongs_to_its_field(admin_client, choices):
    html = _html(admin_client, reverse("web:invite"))
    references = re.findall(r'aria-describedby="([^"]+)"', html)
    assert references
    for reference in references:
        for element_id in reference.split():
            assert _element_text(html, element_id)  # no reference points at nothing

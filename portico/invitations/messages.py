"""The personal message: safe formatting only."""

from __future__ import annotations

import html as html_lib

import nh3

ALLOWED_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "ul", "ol", "li", "a", "blockquote"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def sanitize_message(html: str | None) -> str:
    """Keep paragraphs, emphasis, lists and links (http, https, mailto); drop the rest.
    Plain text keeps its line breaks."""
    text = (html or "").strip()
    if not text:
        return ""
    if "<" not in text:
        text = "<br>".join(line for line in text.splitlines())
    return nh3.clean(
        text,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def message_as_text(html: str) -> str:
    """The message for the plain-text part of an email."""
    with_breaks = html.replace("<br>", "\n").replace("</p>", "\n").replace("</li>", "\n")
    return html_lib.unescape(nh3.clean(with_breaks, tags=set())).strip()

"""Printable letters: one A4 page per invitation, in the invitation's own language.

A page carries the platform's name, a salutation, how to join, the code in large
monospace type, the address to type it at (``/invite/``), a QR code that opens the
invitation's own link (the email's link) and the expiry date. Drawn with reportlab's
canvas in its standard fonts (Helvetica, Courier), which cover Windows-1252: every
accented letter of Dutch, French, German or Spanish names. Characters beyond it are
printed as their closest letter (``ł`` as ``l``, ``ễ`` as ``ê``) or left out, never as
a box.

Which invitations may be printed, the limit and the audit entry are the service's
business (:mod:`portico.invitations.services.letters`); this module only draws.
"""

from __future__ import annotations

import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, NamedTuple

import segno
from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib.colors import HexColor, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from portico.invitations.emails import invitation_link
from portico.invitations.models import Invitation
from portico.invitations.pdf_stream import StreamingCanvas

# Up to this size the PDF stays in memory; beyond, it goes to a temporary file.
SPOOL_MAX_BYTES = 8 * 1024 * 1024

INK = HexColor("#1d2433")
MUTED = HexColor("#5b6475")
ACCENT = HexColor("#1f5fbf")
PANEL = HexColor("#eef2f8")

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 22 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
QR_SIZE = 42 * mm  # quiet zone included: about 1.1 mm per module for a short link
QR_BORDER = 4  # modules of quiet zone, as the QR standard asks

REGULAR, BOLD, MONO = "Helvetica", "Helvetica-Bold", "Courier-Bold"


class Letters(NamedTuple):
    """The rendered PDF, positioned at its start, and how many pages (letters) it has."""

    file: IO[bytes]
    count: int


def qr_code(url: str) -> segno.QRCode:
    """The QR code printed for ``url``: a full QR code (not a micro one) with error
    correction level M, which survives a crease or a smudge on paper."""
    # A fixed mask: choosing the "best" of the eight costs five times the rest of the
    # code, and any mask scans (the choice only avoids patterns that are harder to read).
    return segno.make_qr(url, error="m", mask=0)


def invite_address(base_url: str) -> str:
    """The absolute address where a code is typed: ``<base_url>/invite/``."""
    return base_url + reverse("invitations:enter")


# Letters that have no decomposition into a Windows-1252 letter and an accent.
_LOOKALIKES = str.maketrans(
    {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "\u0131": "i", "Ŀ": "L", "ŀ": "l"}
)


def _encodable(text: str) -> bool:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """``text`` within Windows-1252, the character set of the standard PDF fonts: kept
    as it is when it fits (the usual case); otherwise each other character becomes its
    closest printable letter (``ễ`` → ``ê``, ``ș`` → ``s``, ``ł`` → ``l``) or is left
    out (scripts the fonts do not have), and control characters are dropped."""
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc")
    if _encodable(text):
        return text
    out = []
    for ch in text.translate(_LOOKALIKES):
        if _encodable(ch):
            out.append(ch)
            continue
        decomposed = unicodedata.normalize("NFKD", ch)
        # The longest prefix (base letter and some accents) that composes into one
        # printable character; failing that, the printable base characters alone.
        for end in range(len(decomposed), 0, -1):
            composed = unicodedata.normalize("NFC", decomposed[:end])
            if _encodable(composed) and not unicodedata.combining(composed[0]):
                out.append(composed)
                break
    return " ".join("".join(out).split())


@dataclass(frozen=True)
class _Page:
    """One letter's texts, already translated and printable."""

    platform: str
    date: str
    recipient: str
    title: str
    salutation: str
    paragraphs: tuple[str, ...]
    code_label: str
    code: str
    address_label: str
    address: str
    qr: segno.QRCode
    qr_caption: str
    validity: str
    footer: str


def _page(invitation: Invitation, *, now: datetime, base_url: str) -> _Page:
    """The page's texts in the active language (the caller activates the invitation's)."""
    platform = settings.PORTICO_PLATFORM_NAME
    name = printable(invitation.first_name or invitation.full_name)
    if not any(ch.isalnum() for ch in name):
        name = ""
    address = invite_address(base_url)
    return _Page(
        platform=printable(platform),
        date=formats.date_format(timezone.localtime(now), "DATE_FORMAT"),
        recipient=printable(invitation.full_name),
        title=printable(_("Your invitation to %(platform_name)s") % {"platform_name": platform}),
        salutation=printable(
            _("Hello %(invitee_name)s,") % {"invitee_name": name} if name else _("Hello,")
        ),
        paragraphs=(
            printable(
                _(
                    "You are invited to join %(platform_name)s. With the personal code on "
                    "this letter you can create your account in a few minutes."
                )
                % {"platform_name": platform}
            ),
            printable(
                _(
                    "Go to the address below, type your code and choose a password. Or scan "
                    "the QR code with your phone: it opens your invitation directly."
                )
            ),
        ),
        code_label=printable(_("Your code")),
        code=invitation.token_display,
        address_label=printable(_("Type it at")),
        address=printable(address),
        qr=qr_code(invitation_link(invitation, base_url=base_url)),
        qr_caption=printable(_("Scan to open your invitation")),
        validity=printable(
            _("This code is valid until %(date)s.")
            % {
                "date": formats.date_format(
                    timezone.localtime(invitation.expires_at), "DATE_FORMAT"
                )
            }
        ),
        footer=printable(
            _("Keep this letter to yourself: the code works only once, for one account.")
        ),
    )


def _fit(text: str, font: str, size: float, width: float, *, smallest: float = 7) -> float:
    """The largest font size, at most ``size``, at which ``text`` fits in ``width``."""
    natural = stringWidth(text, font, size)
    return size if natural <= width else max(smallest, size * width / natural)


def _lines(pdf: Canvas, lines: list[str], *, x: float, y: float, leading: float) -> float:
    for line in lines:
        pdf.drawString(x, y, line)
        y -= leading
    return y


def _qr_runs(qr: segno.QRCode) -> Iterator[tuple[int, int, int]]:
    """The dark modules as ``(row, column, length)`` runs, row by row from the top."""
    for row, cells in enumerate(qr.matrix):
        col, width = 0, len(cells)
        while col < width:
            if cells[col] & 1:
                start = col
                while col < width and cells[col] & 1:
                    col += 1
                yield row, start, col - start
            else:
                col += 1


def _draw_qr(pdf: Canvas, qr: segno.QRCode, *, x: float, y: float, size: float) -> None:
    """The QR code as vector squares in a ``size`` square whose lower left corner is at
    (``x``, ``y``), quiet zone included. In module units (row 0 at the top), one
    rectangle per run of dark modules: the page's content stream holds
    ``column row length 1 re`` per run, then one fill."""
    rows = len(qr.matrix)
    module = size / (rows + 2 * QR_BORDER)
    pdf.setFillColor(white)
    pdf.rect(x, y, size, size, stroke=0, fill=1)
    pdf.saveState()
    pdf.translate(x + QR_BORDER * module, y + size - QR_BORDER * module)
    pdf.scale(module, -module)
    pdf.setFillColor(INK)
    # Written as PDF operators directly: through reportlab's path objects, a few hundred
    # rectangles cost more than the rest of the page.
    pdf.addLiteral(
        "\n".join(f"{col} {row} {length} 1 re" for row, col, length in _qr_runs(qr)) + "\nf"
    )
    pdf.restoreState()


def _draw(pdf: Canvas, page: _Page) -> None:
    left, right = MARGIN, PAGE_WIDTH - MARGIN
    top = PAGE_HEIGHT - MARGIN

    # Letterhead: the platform on the left, the date on the right, a rule below.
    pdf.setFillColor(ACCENT)
    pdf.setFont(BOLD, _fit(page.platform, BOLD, 20, CONTENT_WIDTH * 0.7))
    pdf.drawString(left, top - 14, page.platform)
    pdf.setFillColor(MUTED)
    pdf.setFont(REGULAR, 10)
    pdf.drawRightString(right, top - 12, page.date)
    pdf.setStrokeColor(ACCENT)
    pdf.setLineWidth(1.2)
    pdf.line(left, top - 26, right, top - 26)

    # The recipient where a window envelope shows it (the left window, 45 to 90 mm
    # from the top of the page).
    pdf.setFillColor(INK)
    pdf.setFont(REGULAR, 11)
    if page.recipient:
        _lines(
            pdf,
            simpleSplit(page.recipient, REGULAR, 11, 85 * mm)[:3],
            x=left,
            y=PAGE_HEIGHT - 55 * mm,
            leading=14,
        )

    y = PAGE_HEIGHT - 105 * mm
    pdf.setFont(BOLD, 16)
    y = _lines(pdf, simpleSplit(page.title, BOLD, 16, CONTENT_WIDTH), x=left, y=y, leading=20)
    y -= 10
    pdf.setFont(REGULAR, 11)
    y = _lines(
        pdf, simpleSplit(page.salutation, REGULAR, 11, CONTENT_WIDTH)[:2], x=left, y=y, leading=15
    )
    y -= 6
    for paragraph in page.paragraphs:
        y = _lines(pdf, simpleSplit(paragraph, REGULAR, 11, CONTENT_WIDTH), x=left, y=y, leading=15)
        y -= 7

    # The panel: the code and the address on the left, the QR code on the right.
    padding = 6 * mm
    panel_height = QR_SIZE + 2 * padding
    panel_bottom = y - 8 - panel_height
    pdf.setFillColor(PANEL)
    pdf.roundRect(left, panel_bottom, CONTENT_WIDTH, panel_height, 3 * mm, stroke=0, fill=1)
    qr_x = right - padding - QR_SIZE
    _draw_qr(pdf, page.qr, x=qr_x, y=panel_bottom + padding, size=QR_SIZE)
    text_x = left + padding
    text_width = qr_x - padding - text_x
    panel_top = panel_bottom + panel_height
    pdf.setFillColor(MUTED)
    pdf.setFont(REGULAR, 10)
    pdf.drawString(text_x, panel_top - padding - 8, page.code_label)
    pdf.setFillColor(INK)
    pdf.setFont(MONO, _fit(page.code, MONO, 26, text_width))
    pdf.drawString(text_x, panel_top - padding - 38, page.code)
    pdf.setFillColor(MUTED)
    pdf.setFont(REGULAR, 10)
    pdf.drawString(text_x, panel_top - padding - 66, page.address_label)
    pdf.setFillColor(ACCENT)
    pdf.setFont(BOLD, _fit(page.address, BOLD, 13, text_width))
    pdf.drawString(text_x, panel_top - padding - 84, page.address)
    pdf.setFillColor(MUTED)
    pdf.setFont(REGULAR, 8)
    pdf.drawCentredString(qr_x + QR_SIZE / 2, panel_bottom + padding / 2 - 3, page.qr_caption)

    y = panel_bottom - 14 * mm
    pdf.setFillColor(INK)
    pdf.setFont(BOLD, 11)
    y = _lines(pdf, simpleSplit(page.validity, BOLD, 11, CONTENT_WIDTH), x=left, y=y, leading=15)
    pdf.setFont(REGULAR, 11)
    _lines(pdf, simpleSplit(page.footer, REGULAR, 11, CONTENT_WIDTH), x=left, y=y - 4, leading=15)

    # The foot of the page: where the platform is.
    pdf.setFillColor(MUTED)
    pdf.setFont(REGULAR, 8)
    pdf.drawCentredString(PAGE_WIDTH / 2, MARGIN / 2, f"{page.platform} · {page.address}")


def letters_filename(now: datetime | None = None) -> str:
    """The download's name, stamped with the local time: ``letters-20260315-0930.pdf``."""
    return f"letters-{timezone.localtime(now).strftime('%Y%m%d-%H%M')}.pdf"


def draw_letters(
    invitations: Iterable[Invitation],
    out: IO[bytes],
    *,
    now: datetime,
    base_url: str,
    on_page: Callable[[int], None] | None = None,
) -> int:
    """Write to ``out`` a PDF of one A4 page per invitation, in iteration order, each
    drawn in the invitation's language (``invitation.language``) with its token, dated
    ``now`` and with links on ``base_url`` (``BASE_URL``: no trailing slash). Returns
    the number of pages.

    Each page is written to ``out`` as soon as it is drawn (see
    :mod:`portico.invitations.pdf_stream`), so memory stays flat whatever the number of
    letters; ``on_page(count)`` is called after each one (progress; an exception it
    raises stops the drawing, leaving ``out`` incomplete). Reads each invitation's
    fields only (no further query), so the caller may pass a chunked iterator. Selects
    nothing, audits nothing: letters carry working tokens, so the caller records them.
    """
    platform = printable(settings.PORTICO_PLATFORM_NAME)
    pdf = StreamingCanvas(out, pagesize=A4, title=platform, created=timezone.localtime(now))
    for invitation in invitations:
        with translation.override(invitation.language):
            _draw(pdf, _page(invitation, now=now, base_url=base_url))
        pdf.showPage()
        if on_page is not None:
            on_page(pdf.page_count)
    pdf.save()
    return pdf.page_count


def render_letters(invitations: Iterable[Invitation], *, now: datetime, base_url: str) -> Letters:
    """The letters of :func:`draw_letters` in a temporary file that stays in memory up
    to :data:`SPOOL_MAX_BYTES`, positioned at its start. The caller closes the returned
    file (a ``FileResponse`` does)."""
    # Returned open: the caller (a FileResponse) closes it.
    file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)  # noqa: SIM115
    try:
        count = draw_letters(invitations, file, now=now, base_url=base_url)
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return Letters(file=file, count=count)

"""A PDF written page by page: memory stays flat however many pages it has.

reportlab's canvas keeps every page of a document in memory until it saves it (about
15 KB per letter: 300 MB for 20,000 letters). :class:`StreamingCanvas` draws with the
very same canvas operations, but hands each finished page to :class:`PdfStreamWriter`,
which compresses it and writes it to the output at once, keeping only what the file's
cross-reference table needs: the byte offset of each object (about 24 bytes a page).

What it supports is what the letters draw: text in the standard fonts (Helvetica,
Courier...), vector paths and colours. A page with images, forms, links, transparency
or spot colours raises ``ValueError`` instead of producing a broken file.

The page tree is two levels deep (at most :data:`PAGES_PER_NODE` pages under each
node), as the PDF reference advises for large documents.
"""

from __future__ import annotations

import base64
import zlib
from array import array
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase._fontdata import standardFonts
from reportlab.pdfgen.canvas import Canvas

PAGES_PER_NODE = 500
# Fixed objects, written last: their numbers are known before any page refers to them.
CATALOG, ROOT, RESOURCES, INFO = 1, 2, 3, 4
_ENCODINGS = ("/WinAnsiEncoding", "/MacRomanEncoding", "/MacExpertEncoding")


def _text(value: str) -> bytes:
    """A PDF text string in UTF-16 with its byte order mark: any character, no escaping."""
    return b"<" + ("\ufeff" + value).encode("utf-16-be").hex().upper().encode() + b">"


class PdfStreamWriter:
    """Writes a PDF to ``out`` (a binary file open for writing) one page at a time.

    Call :meth:`add_page` with each page's content stream (PDF operators), then
    :meth:`close` with the fonts the pages use. ``out`` is neither closed nor rewound.
    """

    def __init__(self, out: BinaryIO, *, width: float, height: float) -> None:
        self._out = out
        self._position = 0
        self._media_box = f"[0 0 {width:.4f} {height:.4f}]".encode()
        # Index: object number; value: its offset in the file (0: not written yet).
        self._offsets = array("q", [0] * (INFO + 1))
        self._nodes = array("i")  # object numbers of the page tree's nodes
        self._pages = array("i")  # object numbers of the pages, in order
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # binary marker, as the standard asks

    @property
    def page_count(self) -> int:
        return len(self._pages)

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._position += len(data)

    def _new_object(self) -> int:
        self._offsets.append(0)
        return len(self._offsets) - 1

    def _object(self, number: int, body: bytes) -> None:
        self._offsets[number] = self._position
        self._write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def add_page(self, content: bytes) -> None:
        """Write one page whose content stream is ``content``, compressed as reportlab
        does (Flate, then ASCII85: the file stays plain ASCII after its header)."""
        if len(self._pages) % PAGES_PER_NODE == 0:
            self._nodes.append(self._new_object())
        stream, page = self._new_object(), self._new_object()
        data = base64.a85encode(zlib.compress(content), wrapcol=72) + b"~>"
        self._object(
            stream,
            b"<< /Filter [ /ASCII85Decode /FlateDecode ] /Length %d >>\nstream\n%s\nendstream"
            % (len(data), data),
        )
        self._object(
            page,
            b"<< /Type /Page /Parent %d 0 R /MediaBox %s /Resources %d 0 R /Contents %d 0 R >>"
            % (self._nodes[-1], self._media_box, RESOURCES, stream),
        )
        self._pages.append(page)

    def _refs(self, numbers: Iterator[int]) -> bytes:
        return b" ".join(b"%d 0 R" % n for n in numbers)

    def close(self, *, fonts: dict[str, str], title: str, created: datetime) -> None:
        """Finish the file: the fonts (``{"/F1": "Helvetica", ...}``: each page's name
        for a standard font), the page tree, the document's information (``title``,
        ``created``), the cross-reference table and the trailer."""
        font_refs = []
        for name, font_name in sorted(fonts.items()):
            font = pdfmetrics.getFont(font_name)
            if font.face.name not in standardFonts:
                raise ValueError(f"{font_name} is not one of the standard PDF fonts")
            encoding = font.encoding.makePDFObject()
            number = self._new_object()
            self._object(
                number,
                b"<< /BaseFont /%s%s /Name %s /Subtype /Type1 /Type /Font >>"
                % (
                    font.face.name.encode(),
                    b" /Encoding " + encoding.encode() if encoding in _ENCODINGS else b"",
                    name.encode(),
                ),
            )
            font_refs.append(b"%s %d 0 R" % (name.encode(), number))
        self._object(
            RESOURCES,
            b"<< /Font << %s >> /ProcSet [ /PDF /Text ] >>" % b" ".join(font_refs),
        )
        count = len(self._pages)
        for index, node in enumerate(self._nodes):
            kids = self._pages[index * PAGES_PER_NODE : (index + 1) * PAGES_PER_NODE]
            self._object(
                node,
                b"<< /Type /Pages /Parent %d 0 R /Count %d /Kids [ %s ] >>"
                % (ROOT, len(kids), self._refs(iter(kids))),
            )
        self._object(
            ROOT,
            b"<< /Type /Pages /Count %d /Kids [ %s ] >>" % (count, self._refs(iter(self._nodes))),
        )
        stamp = created.strftime("D:%Y%m%d%H%M%S")
        if (offset := created.utcoffset()) is not None:
            minutes = int(offset.total_seconds()) // 60
            stamp += (
                f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"
            )
        self._object(
            INFO,
            b"<< /Title %s /Author %s /Creator %s /CreationDate (%s) >>"
            % (_text(title), _text(title), _text(title), stamp.encode()),
        )
        self._object(CATALOG, b"<< /Type /Catalog /Pages %d 0 R >>" % ROOT)
        xref = self._position
        size = len(self._offsets)
        self._write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        for offset in self._offsets[1:]:
            self._write(b"%010d 00000 n \n" % offset)
        self._write(
            b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (size, CATALOG, INFO, xref)
        )


class StreamingCanvas(Canvas):
    """A reportlab canvas whose pages go to a :class:`PdfStreamWriter` as each one is
    finished (:meth:`showPage`) instead of staying in memory until :meth:`save`.

    ``save()`` finishes the file; the output is not closed."""

    def __init__(
        self, out: BinaryIO, *, pagesize: tuple[float, float], title: str, created: datetime
    ) -> None:
        # The canvas's own document only hands out the fonts' names (/F1...); it never
        # receives a page and is never saved.
        super().__init__(out, pagesize=pagesize)
        self._title = title
        self._created = created
        self._writer = PdfStreamWriter(out, width=pagesize[0], height=pagesize[1])

    @property
    def page_count(self) -> int:
        return self._writer.page_count

    def showPage(self) -> None:
        unsupported = (
            self._formsinuse
            or self._annotationrefs
            or self._colorsUsed
            or self._shadingUsed
            or self._psCommandsBeforePage
            or self._psCommandsAfterPage
            or self._extgstate.getState()
            or self._cropMarks
        )
        if unsupported:
            raise ValueError("the page uses a feature PdfStreamWriter does not write")
        code = "\n".join([self._preamble, *self._code, " "]) + "\n"
        self._writer.add_page(code.encode("latin-1"))
        self._startPage()

    def save(self) -> None:
        if self._code:  # a page begun and not shown: shown, as reportlab's save does
            self.showPage()
        fonts = {internal: name for name, internal in self._doc.fontMapping.items()}
        self._writer.close(fonts=fonts, title=self._title, created=self._created)

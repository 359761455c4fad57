"""The PDF written page by page: every page in order under a two-level page tree, a
cross-reference table that points at each object, memory that does not grow with the
number of pages, and a refusal of what it cannot write."""

from __future__ import annotations

import io
import re
import tracemalloc
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from reportlab.lib.pagesizes import A4

from portico.invitations.pdf_stream import PAGES_PER_NODE, StreamingCanvas
from tests.invitations.pdf import pdf_pages

CREATED = datetime(2026, 3, 15, 9, 30, tzinfo=ZoneInfo("Europe/Brussels"))


def document(pages: int, *, out: io.BytesIO | None = None) -> bytes:
    out = out or io.BytesIO()
    pdf = StreamingCanvas(out, pagesize=A4, title="Zoë's city", created=CREATED)
    for number in range(1, pages + 1):
        pdf.setFont("Helvetica-Bold", 14)
        pdf.drawString(72, 700, f"page {number}")
        pdf.setFont("Courier", 10)
        pdf.drawString(72, 680, "Façade")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def test_pages_beyond_one_node_of_the_page_tree_come_out_in_order():
    count = 2 * PAGES_PER_NODE + 1

    pages = pdf_pages(document(count))

    assert [p.strings[0] for p in pages] == [f"page {n}" for n in range(1, count + 1)]
    assert pages[0].strings[1] == "Façade"
    assert pages[0].font_of("page 1") == ("Helvetica-Bold", 14)
    assert "/F3 10 Tf" in pages[0].content  # Courier, for the second line
    assert pages[0].fonts["F3"] == "Courier"


def test_the_cross_reference_table_points_at_every_object():
    data = document(3)

    xref = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", data).group(1))
    assert data[xref:].startswith(b"xref\n0 ")
    size = int(re.search(rb"xref\n0 (\d+)\n", data[xref:]).group(1))
    entries = re.findall(rb"(\d{10}) 00000 n \n", data[xref:])
    assert len(entries) == size - 1
    for number, offset in enumerate(map(int, entries), start=1):
        assert data[offset:].startswith(b"%d 0 obj\n" % number)
    assert re.search(rb"/Size %d /Root 1 0 R /Info 4 0 R" % size, data)
    assert re.search(rb"/Type /Pages /Count 3 ", data)  # the root counts every page
    assert b"/CreationDate (D:20260315093000+01'00')" in data


def test_the_title_is_stored_in_unicode():
    data = document(1)

    title = ("\ufeff" + "Zoë's city").encode("utf-16-be").hex().upper().encode()
    assert b"/Title <" + title + b">" in data


class _Sink(io.RawIOBase):
    """An output that keeps nothing, as a file on disk keeps nothing in memory."""

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return len(data)


def test_memory_does_not_grow_with_the_number_of_pages():
    def peak(pages: int) -> int:
        tracemalloc.start()
        try:
            pdf = StreamingCanvas(_Sink(), pagesize=A4, title="t", created=CREATED)
            for number in range(pages):
                pdf.drawString(72, 700, f"page {number} " + "x" * 200)
                pdf.showPage()
            pdf.save()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    few, many = peak(200), peak(4000)

    # What grows is the cross-reference table's offsets: a few bytes per page.
    assert many - few < 100 * (4000 - 200)


def test_a_page_with_what_the_writer_cannot_write_is_refused():
    pdf = StreamingCanvas(io.BytesIO(), pagesize=A4, title="t", created=CREATED)
    pdf.setFillAlpha(0.5)  # transparency needs a graphics state the writer does not write
    pdf.rect(10, 10, 100, 100, fill=1)

    with pytest.raises(ValueError, match="does not write"):
        pdf.showPage()

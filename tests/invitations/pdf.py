"""Reading the letters' PDF back in the tests, without a PDF library: the pages in
order (from the page tree), the text each shows and the QR code each draws.

Enough for what reportlab and portico.invitations.pdf_stream write (objects in clear,
content streams compressed with FlateDecode, by default after ASCII85, a page tree of
any depth), not a general PDF reader.
"""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass

_OBJECT = re.compile(rb"(\d+) 0 obj\s*(.*?)\s*endobj", re.DOTALL)
_STREAM = re.compile(rb"^(.*?)stream\r?\n(.*?)\s*endstream$", re.DOTALL)
_RUN = re.compile(r"^(\d+) (\d+) (\d+) 1 re$", re.MULTILINE)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


@dataclass
class Page:
    content: str  # the decoded content stream (operators), as Latin-1 text
    strings: list[str]  # the text it shows, one item per Tj operator
    fonts: dict[str, str]  # the document's font names (F1) and their fonts (Helvetica)

    def font_of(self, string: str) -> tuple[str, float]:
        """The font and size in which ``string`` is shown (its first Tj)."""
        before = self.content[: self.content.index(f"({string}) Tj")]
        name, size = re.findall(r"/(F\d+) ([\d.]+) Tf", before)[-1]
        return self.fonts[name], float(size)

    def qr_matrix(self, size: int) -> list[list[int]]:
        """The ``size`` by ``size`` QR code drawn on the page, rebuilt from its runs of
        dark modules (``column row length 1 re``, see portico.invitations.letters)."""
        matrix = [[0] * size for _ in range(size)]
        for col, row, length in (map(int, m) for m in _RUN.findall(self.content)):
            for x in range(col, col + length):
                matrix[row][x] = 1
        return matrix


def _decode(dictionary: bytes, data: bytes) -> bytes:
    if b"/ASCII85Decode" in dictionary:
        data = base64.a85decode(re.sub(rb"\s", b"", data).removesuffix(b"~>"))
    if b"/FlateDecode" in dictionary:
        data = zlib.decompress(data)
    return data


def _strings(content: str) -> list[str]:
    """The operands of the Tj operators: PDF literal strings, escapes decoded, read as
    Windows-1252 (the standard fonts' encoding)."""
    found = []
    i = 0
    while (start := content.find("(", i)) != -1:
        depth, j, raw = 1, start + 1, []
        while depth:
            ch = content[j]
            if ch == "\\":
                nxt = content[j + 1]
                if nxt in "01234567":
                    digits = re.match(r"[0-7]{1,3}", content[j + 1 : j + 4]).group()
                    raw.append(chr(int(digits, 8)))
                    j += 1 + len(digits)
                    continue
                raw.append(_ESCAPES.get(nxt, nxt))
                j += 2
                continue
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth:
                raw.append(ch)
            j += 1
        if content[j : j + 4].lstrip().startswith("Tj"):
            found.append("".join(raw).encode("latin-1").decode("cp1252"))
        i = j
    return found


def _leaves(objects: dict[int, bytes], node: int) -> list[int]:
    """The pages under the page tree's ``node``, in order (a tree of any depth)."""
    body = objects[node]
    if not re.search(rb"/Type /Pages\b", body):
        return [node]
    kids = re.search(rb"/Kids \[([^\]]*)\]", body).group(1)
    return [leaf for kid in re.findall(rb"(\d+) 0 R", kids) for leaf in _leaves(objects, int(kid))]


def pdf_pages(data: bytes) -> list[Page]:
    """The pages of a PDF made by reportlab or portico.invitations.pdf_stream, in order."""
    assert data.startswith(b"%PDF-"), data[:20]
    objects = {int(number): body for number, body in _OBJECT.findall(data)}
    (catalog,) = [body for body in objects.values() if re.search(rb"/Type /Catalog\b", body)]
    root = int(re.search(rb"/Pages (\d+) 0 R", catalog).group(1))
    fonts = {
        name.decode(): base.decode()
        for body in objects.values()
        for base, name in re.findall(rb"/BaseFont /([\w-]+).*?/Name /(F\d+)", body, re.DOTALL)
    }
    pages = []
    for number in _leaves(objects, root):
        contents = int(re.search(rb"/Contents (\d+) 0 R", objects[number]).group(1))
        dictionary, data_ = _STREAM.match(objects[contents]).groups()
        content = _decode(dictionary, data_).decode("latin-1")
        pages.append(Page(content=content, strings=_strings(content), fonts=fonts))
    return pages

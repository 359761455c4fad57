"""Hostile and broken files: each one ends, within the reader's limits (a child process
with memory, CPU-time and wall-clock caps), in ``unparseable_file`` or in row errors;
the import is then ``invalid`` and nothing is stored. None of them can crash or stall
the process that reads it: every call here returns.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.utils import translation

from portico.invitations import sheet_reader, sheets
from portico.invitations.models import (
    Invitation,
    InvitationBatch,
    InvitationImport,
    InvitationMessage,
)
from portico.invitations.services.imports import invitation_import_start
from portico.invitations.services.planning import InviteOptions
from portico.invitations.sheets import read_invitation_sheet
from tests.invitations.sheet_files import (
    API,
    HEADER,
    Formula,
    checked,
    csv_bytes,
    encrypted_workbook,
    fake_ole,
    far_corner,
    random_bytes,
    read_xlsx,
    shared_string_flood,
    upload,
    where,
    with_huge_cell,
    xlsx_bytes,
    zip_bomb,
)

pytestmark = pytest.mark.django_db

TEN_MB = 10 * 1024 * 1024
PHISH = "http://evil.example/phish"
ACCENTED = [
    ["email", "first_name", "last_name", "groups"],
    ["zoe@x.example", "Zoé", "Müller", "Résidents du Nord"],
]


@dataclass
class Hostile:
    """A hostile file and exactly how it must end: ``errors`` as (code, row, column,
    value), ``value`` None meaning "not compared" for very long values, and for
    ``unparseable_file`` the words its reason must contain."""

    name: str
    build: Callable[[], bytes]
    errors: list[tuple]
    reason: str = ""
    rows_read: int = 0  # rows the reader hands on (besides the header) when it reads it

    def __str__(self) -> str:
        return self.name


UNPARSEABLE = [("unparseable_file", None, None, None)]


CASES = [
    Hostile(
        "random-bytes.xlsx",
        random_bytes,
        UNPARSEABLE,
        reason="neither a spreadsheet nor a text (CSV) file",
    ),
    Hostile(
        # Read for what it is (CSV), whatever its name: its rows are checked as usual.
        "csv-renamed.xlsx",
        lambda: csv_bytes([HEADER, ["ann@x.example", "Ann"], ["not-an-address", "Ben"]]),
        [("invalid_email", 3, "email", "not-an-address")],
        rows_read=2,
    ),
    Hostile("zip-bomb.xlsx", zip_bomb, UNPARSEABLE, reason="zip bomb"),
    Hostile(
        # The only cell is XFD1048576: the reader walks down to it, finds no email column.
        "far-corner.xlsx",
        far_corner,
        [("unparseable_file", 1_048_576, "email", None)],
        reason="no 'email' column",
    ),
    Hostile(
        # Data at the top and a cell at XFD1048576: the whole grid would take terabytes;
        # the reader dies at its memory limit instead of the machine.
        "far-corner-with-data.xlsx",
        lambda: far_corner(HEADER, ["ann@x.example", "Ann"]),
        UNPARSEABLE,
        reason="made the reader fail",
    ),
    Hostile(
        "ole-magic-and-junk.xlsx",
        fake_ole,
        UNPARSEABLE,
        reason="cannot be read",
    ),
    Hostile(
        "password-protected.xlsx",
        encrypted_workbook,
        UNPARSEABLE,
        reason="protected with a password",
    ),
    Hostile(
        # Formulas are never evaluated: the reader takes the value cached in the file
        # (what the spreadsheet shows), and formula text never reaches an invitation.
        "formulas.xlsx",
        lambda: xlsx_bytes(
            [
                HEADER,
                [Formula(f'=HYPERLINK("{PHISH}","{PHISH}")', PHISH), "Ann"],
                ["bob@x.example", Formula("=1+1", 2)],
                [Formula("=1+1", 2), "Cleo"],
            ]
        ),
        [("invalid_email", 2, "email", PHISH), ("invalid_email", 4, "email", "2")],
        rows_read=3,
    ),
    Hostile(
        # In CSV a formula is text: reported as it is, never run.
        "formulas.csv",
        lambda: csv_bytes(
            [
                HEADER,
                [f'=HYPERLINK("{PHISH}","Click")', "Ann"],
                ["bob@x.example", "=1+1"],
                ["@SUM(A1:A9)", "Cleo"],
            ]
        ),
        [
            ("invalid_email", 2, "email", f'=HYPERLINK("{PHISH}","Click")'),
            ("invalid_email", 4, "email", "@SUM(A1:A9)"),
        ],
        rows_read=3,
    ),
    Hostile(
        "ten-mb-cell.xlsx",
        lambda: with_huge_cell([HEADER, ["ann@x.example", "HUGE-CELL"]], "HUGE-CELL"),
        [("value_too_long", 2, "first_name", None)],
        rows_read=1,
    ),
    Hostile(
        "ten-mb-cell.csv",
        lambda: csv_bytes([HEADER, ["x" * TEN_MB, "Ann"]]),
        [("invalid_email", 2, "email", None)],
        rows_read=1,
    ),
    Hostile(
        # One 2,000-character shared string in 40 columns of 900 rows: a file of about
        # 80 KB whose cells hold 72 million characters, more than the reader hands on
        # (the parent would load them all from its JSON at once).
        "shared-string-flood.xlsx",
        lambda: shared_string_flood(900),
        UNPARSEABLE,
        reason="more text than an import may (64 MB)",
    ),
    Hostile(
        # Windows' "CSV" in Western Europe: cp1252 and semicolons. The accents survive
        # (the unknown group is named exactly as typed).
        "cp1252.csv",
        lambda: csv_bytes(ACCENTED, delimiter=";", encoding="cp1252"),
        [("unknown_group", 2, "groups", "Résidents du Nord")],
        rows_read=1,
    ),
    Hostile(
        "utf16-bom.csv",
        lambda: csv_bytes(ACCENTED, encoding="utf-16"),
        [("unknown_group", 2, "groups", "Résidents du Nord")],
        rows_read=1,
    ),
    Hostile(
        # Rows pasted together from a UTF-8 file and a Windows one: read as cp1252, the
        # correct accents of row 2 would be stored garbled without a word.
        "mixed-encodings.csv",
        lambda: (
            "email,first_name\r\nzoe@x.example,Zoë\r\n".encode()
            + "rene@x.example,René\r\n".encode("cp1252")
        ),
        UNPARSEABLE,
        reason="row 3 is not written in UTF-8 like the rest of the file",
    ),
    Hostile(
        "latin1-garbage.csv",
        lambda: b"email,first_name\r\n" + bytes(range(0x80, 0x100)) * 8,
        UNPARSEABLE,
        reason="unknown encoding",
    ),
]


def _nothing_stored() -> None:
    assert Invitation.objects.count() == 0
    assert InvitationBatch.objects.count() == 0
    assert InvitationMessage.objects.count() == 0
    assert mail.outbox == []


def _compare(errors: list[dict], case: Hostile) -> None:
    got = where(errors)
    expected = [
        (code, row, column, got[i][3] if value is None and i < len(got) else value)
        for i, (code, row, column, value) in enumerate(case.errors)
    ]
    assert got == expected
    for error in errors:
        assert error["message"]
        if error["code"] == "unparseable_file":
            assert case.reason in error["message"]
        if error["code"] in ("value_too_long", "invalid_email"):
            assert len(error["value"]) <= 2001  # cut, never 10 MB in the database


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_reader_turns_a_hostile_file_into_an_error_or_rows(tmp_path, case):
    path = Path(tmp_path) / case.name
    path.write_bytes(case.build())
    sheet = read_invitation_sheet(path)  # returns: never crashes this process
    if case.reason:
        (error,) = sheet.errors
        assert error["code"] == "unparseable_file"
        assert case.reason in error["message"]
        assert sheet.rows == []
    else:
        assert not [e for e in sheet.errors if e["code"] == "unparseable_file"]
        assert len(sheet.rows) == case.rows_read
        assert not any("HYPERLINK" in (r.first_name or "") for r in sheet.rows)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_hostile_import_ends_invalid_with_nothing_stored(admin, case):
    with TestCase.captureOnCommitCallbacks(execute=True):
        started = invitation_import_start(
            actor=admin,
            upload=SimpleUploadedFile(case.name, case.build()),
            options=InviteOptions(),
        )
    invitation_import = InvitationImport.objects.get(pk=started.pk)
    assert invitation_import.status == InvitationImport.Status.INVALID
    _compare(invitation_import.errors, case)
    assert invitation_import.plan == []
    _nothing_stored()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_hostile_upload_through_the_api(admin_client, case):
    result = checked(admin_client, case.name, case.build())
    assert result["filename"] == case.name
    assert result["progress"]["status"] == "invalid"
    _compare(result["errors"], case)
    assert result["preview"] == []
    _nothing_stored()

    # Confirming is refused; nothing is stored then either.
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = admin_client.post(f"{API}/imports/{result['id']}/confirm")
    assert response.status_code == 409
    _nothing_stored()


def test_the_readers_memory_cap_is_what_stops_a_greedy_file(settings, tmp_path):
    """Under a tight memory cap the reader of a 10 MB cell dies, not this process: the
    file ends as unparseable_file, while a small file still reads under the same cap."""
    settings.PORTICO_IMPORT_MEMORY_MB = 64
    greedy = tmp_path / "greedy.csv"
    greedy.write_bytes(csv_bytes([HEADER, ["x" * TEN_MB, "Ann"]]))
    sheet = read_invitation_sheet(greedy)
    assert [e["code"] for e in sheet.errors] == ["unparseable_file"]
    assert "made the reader fail" in sheet.errors[0]["message"]
    assert sheet.rows == []

    small = tmp_path / "small.csv"
    small.write_bytes(csv_bytes([HEADER, ["ann@x.example", "Ann"]]))
    sheet = read_invitation_sheet(small)
    assert sheet.errors == []
    assert [(r.position, r.email) for r in sheet.rows] == [(2, "ann@x.example")]


def _rows_holding(characters: int) -> list[list[str]]:
    """A header ("email") and rows whose cells hold ``characters`` characters in all, the
    header's included, in cells of at most 2,000 (so that none is cut)."""
    rows, left = [["email"]], characters - len("email")
    while left:
        row: list[str] = []
        while left and len(row) < 10:
            row.append("x" * min(left, 2000))
            left -= len(row[-1])
        rows.append(row)
    return rows


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_reader_refuses_more_text_than_its_cap_counting_only_kept_rows(
    monkeypatch, tmp_path, fmt
):
    """A file whose cells hold exactly the cap reads; one character more is refused, in
    .xlsx and CSV alike; rows past the row limit are only counted, so their text is not.
    In this process, with the cap lowered to 1 MB to keep the files small (the child
    process has the real cap: see the shared-string-flood case)."""
    monkeypatch.setattr(sheet_reader, "MAX_TEXT", 1 << 20)
    build = xlsx_bytes if fmt == "xlsx" else csv_bytes
    at_cap = tmp_path / f"at-cap.{fmt}"
    at_cap.write_bytes(build(_rows_holding(1 << 20)))
    result = sheet_reader.read(str(at_cap), 1000)
    assert result["ok"] is True
    assert sum(len(cell) for _number, cells in result["rows"] for cell in cells) == 1 << 20

    over = tmp_path / f"over.{fmt}"
    rows = _rows_holding((1 << 20) + 1)
    over.write_bytes(build(rows))
    assert sheet_reader.read(str(over), 1000) == {
        "ok": False,
        "reason": "the file holds more text than an import may (1 MB)",
        "reason_code": "too_much_text",
        "reason_params": {"mb": 1},
    }
    # Kept up to a row limit of 10, the same file is too long, not too big.
    assert sheet_reader.read(str(over), 10) == {"ok": False, "too_many_rows": len(rows) - 1}


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_cap_counts_bytes_not_characters(monkeypatch, tmp_path, fmt):
    """Four-byte characters make four bytes of JSON each: 300,000 of them are under a
    cap of 1 MB in characters, but not in bytes."""
    monkeypatch.setattr(sheet_reader, "MAX_TEXT", 1 << 20)
    rows = [["email"], *([chr(0x1F600) * 1500] for _ in range(200))]
    path = tmp_path / f"faces.{fmt}"
    path.write_bytes((xlsx_bytes if fmt == "xlsx" else csv_bytes)(rows))

    assert sheet_reader.read(str(path), 1000) == {
        "ok": False,
        "reason": "the file holds more text than an import may (1 MB)",
        "reason_code": "too_much_text",
        "reason_params": {"mb": 1},
    }


def test_json_longer_than_the_cap_is_not_handed_over(monkeypatch):
    """Escapes make the JSON longer than the text (a control character takes six
    bytes): the JSON itself is measured before it is written."""
    monkeypatch.setattr(sheet_reader, "MAX_TEXT", 1000)
    under = {"ok": True, "rows": [[1, ["x" * 900]]], "last_row": 1}
    over = {"ok": True, "rows": [[1, ["\x01" * 900]]], "last_row": 1}

    assert json.loads(sheet_reader.output(under)) == under
    assert json.loads(sheet_reader.output(over)) == {
        "ok": False,
        "reason": "the file holds more text than an import may (0 MB)",
        "reason_code": "too_much_text",
        "reason_params": {"mb": 0},
    }


def test_the_error_sheet_of_a_formula_file_holds_text_only(admin_client):
    """The sheet with the error column gives the cells back as text: a formula typed in
    the uploaded CSV comes back with an apostrophe, never as a formula."""
    case = next(c for c in CASES if c.name == "formulas.csv")
    result = checked(admin_client, case.name, case.build())
    response = admin_client.get(f"{API}/imports/{result['id']}/errors.xlsx")
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(content)) as workbook:
        sheet_xml = workbook.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml
    rows = read_xlsx(content)
    assert rows[0] == [*HEADER, "errors"]
    assert rows[1][0] == f'\'=HYPERLINK("{PHISH}","Click")'
    assert rows[1][-1].startswith("invalid_email: ")
    assert rows[2][1] == "'=1+1"
    assert rows[2][-1] == ""
    assert rows[3][0] == "'@SUM(A1:A9)"
    assert rows[3][-1].startswith("invalid_email: ")


def test_a_renamed_csv_without_problems_is_read_as_csv(admin_client):
    content = csv_bytes([HEADER, ["ann@x.example", "Ann"]])
    result = checked(admin_client, "really-a-csv.xlsx", content)
    assert result["progress"]["status"] == "ready", result["errors"]
    assert [(p["row"], p["email"]) for p in result["preview"]] == [(2, "ann@x.example")]


def test_a_hostile_file_through_the_admin_page(admin_client):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = admin_client.post(
            "/manage/invitations/import/",
            {"file": SimpleUploadedFile("random.xlsx", random_bytes()), "language": "en"},
        )
    assert response.status_code == 302, response.content
    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="import-errors"' in html
    assert 'data-code="unparseable_file"' in html
    assert 'data-testid="confirm-import"' not in html
    _nothing_stored()


def test_an_upload_over_the_size_limit_is_refused_with_413(admin_client, settings):
    settings.PORTICO_UPLOAD_MAX_MB = 1
    content = csv_bytes([HEADER, *[[f"p{i:06d}@x.example"] for i in range(111_000)]])
    assert 2 * 1024 * 1024 < len(content) < 2.1 * 1024 * 1024
    response = upload(admin_client, "big.csv", content)
    assert response.status_code == 413
    (error,) = response.json()["errors"]
    assert error["code"] == "file_too_large"
    assert error["limit_mb"] == 1
    assert not InvitationImport.objects.exists()
    _nothing_stored()


def test_a_reader_that_runs_past_its_time_limit_is_stopped(settings, tmp_path):
    """The wall-clock limit ends a reader that takes too long (whatever keeps it busy):
    the file is unparseable, this process goes on. A limit of 50 ms stands for the
    default's 90 s against a file that takes longer than that to read."""
    settings.PORTICO_IMPORT_TIMEOUT_SECONDS = 0.05
    slow = tmp_path / "slow.csv"
    slow.write_bytes(csv_bytes([HEADER, *([f"p{n}@x.example", "P"] for n in range(100_000))]))

    sheet = read_invitation_sheet(slow)

    assert [e["code"] for e in sheet.errors] == ["unparseable_file"]
    assert "took too long" in sheet.errors[0]["message"]
    assert sheet.rows == []


def test_every_reason_of_the_reader_is_worded_by_the_parent_with_the_same_parameters():
    """The child imports no Django, so the parent words its reasons (in the admin's
    language): one wording per code, saying the same thing in English."""
    assert sheets.REASONS.keys() == sheet_reader.REASONS.keys()
    with translation.override(None):
        for code, english in sheet_reader.REASONS.items():
            parameters = re.findall(r"\{(\w+)\}", english)
            expected = re.sub(r"\{(\w+)\}", r"%(\1)s", english)
            assert str(sheets.REASONS[code]) == expected, code
            assert sorted(re.findall(r"%\((\w+)\)s", expected)) == sorted(parameters)


def test_why_a_file_cannot_be_read_is_said_in_the_uploaders_language(tmp_path):
    case = next(c for c in CASES if c.name == "password-protected.xlsx")
    path = Path(tmp_path) / case.name
    path.write_bytes(case.build())
    with translation.override("nl-be"):
        (error,) = read_invitation_sheet(path).errors
    assert error["message"] == (
        "Dit bestand kan niet worden gelezen: de werkmap is met een wachtwoord beveiligd."
    )
    mixed = Path(tmp_path) / "mixed.csv"
    mixed.write_bytes("email\r\nzoë@x.example\r\n".encode() + "rené@x.example\r\n".encode("cp1252"))
    with translation.override("fr-be"):
        (error,) = read_invitation_sheet(mixed).errors
    assert "la ligne 3 n\u2019est pas écrite en UTF-8" in error["message"]


def test_a_windows_csv_whose_accents_look_like_utf8_here_and_there_is_read_as_it_is(tmp_path):
    """ "É" before a no-break space (French "RÉSERVÉ !") is a valid UTF-8 byte pair; the
    file is still all cp1252, not mixed."""
    text = "email;first_name;message\r\nzoe@x.example;Zoé;RÉSERVÉ\u00a0!\r\n"
    path = Path(tmp_path) / "windows.csv"
    path.write_bytes(text.encode("cp1252"))
    sheet = read_invitation_sheet(path)
    assert sheet.errors == []
    (row,) = sheet.rows
    assert (row.first_name, row.message) == ("Zoé", "RÉSERVÉ\u00a0!")

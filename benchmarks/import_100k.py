"""Import 100,000 rows and compare with the floor measured in the same run.

    .venv/bin/python benchmarks/import_100k.py                      # SQLite
    .venv/bin/python benchmarks/import_100k.py --runs 3             # the median of 3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portico \\
        .venv/bin/python benchmarks/import_100k.py                  # PostgreSQL

The run uses a throw-away database of the same kind as DATABASE_URL (a temporary SQLite
file, or a temporary PostgreSQL database on the same server, dropped at the end).

Portico's time runs from the upload to the moment every invitation is stored and its
email queued in the outbox: the guarded read in a child process, the complete check
(the preview), then storing after confirmation. The floor is what no import can beat:
reading the same file with python-calamine, plus inserting the same number of rows
through the database's fastest path (COPY on PostgreSQL, one executemany transaction on
SQLite). Target: Portico within 3x the floor, peak memory under 500 MB.

A second baseline shows what Portico's schema alone costs: the same read plus the same
rows inserted, the same fastest way, into the invitations table as it is (its indexes,
unique constraints and foreign keys), with nothing checked, computed, linked or queued.

``--bare-schema`` measures what the schema's price levers would buy: before anything
runs, the invitations table loses every index that is not its primary key or a unique
constraint (the list's sorts and filters, the batch link), and, on PostgreSQL, the
invitations, their group links and the outbox lose their foreign keys. Nothing in
Portico runs differently; only the database has less to maintain.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GROUPS = ["North Avenue Residents", "Youth Council", "Harbour District"]


def make_file(path: Path, rows: int) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["email", "first_name", "last_name", "language", "groups", "admin"])
    rng = random.Random(42)
    languages = ["en", "nl-BE", "fr-BE"]
    for number in range(1, rows + 1):
        sheet.write_row(
            number,
            0,
            [
                f"resident{number}@bench.example",
                f"First{number}",
                f"Last{number}",
                rng.choice(languages),
                rng.choice(GROUPS),
                "FALSE",
            ],
        )
    workbook.close()


def prepare_database() -> tuple[str, callable]:
    """A throw-away database of the same kind as DATABASE_URL; returns (url, cleanup)."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        base, _, _name = url.rpartition("/")
        name = f"portico_bench_{os.getpid()}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')

        def cleanup() -> None:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        return f"{base}/{name}", cleanup
    handle = tempfile.NamedTemporaryFile(suffix=".sqlite3", delete=False)  # noqa: SIM115
    handle.close()
    return f"sqlite:///{handle.name}", lambda: Path(handle.name).unlink(missing_ok=True)


def floor(path: Path, rows: int) -> dict[str, float]:
    """Read with calamine in-process; insert the same number of rows the fastest way."""
    from django.db import connection
    from python_calamine import CalamineWorkbook

    started = time.perf_counter()
    data = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    read = time.perf_counter() - started
    values = [(r[0], r[1], r[2], r[3], f"{i:064x}") for i, r in enumerate(data[1:])]
    assert len(values) == rows
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_floor (id integer PRIMARY KEY, email varchar(254), "
            "first_name varchar(150), last_name varchar(150), language varchar(16), "
            "token_hash varchar(64))"
        )
    started = time.perf_counter()
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(
                "COPY bench_floor (id, email, first_name, last_name, language, token_hash) "
                "FROM STDIN"
            ) as copy,
        ):
            for i, row in enumerate(values):
                copy.write_row((i, *row))
        connection.commit() if not connection.get_autocommit() else None
    else:
        raw = connection.connection
        raw.execute("BEGIN")
        raw.executemany(
            "INSERT INTO bench_floor (id, email, first_name, last_name, language, "
            "token_hash) VALUES (?, ?, ?, ?, ?, ?)",
            [(i, *row) for i, row in enumerate(values)],
        )
        raw.execute("COMMIT")
    insert = time.perf_counter() - started
    return {"read": read, "insert": insert, "total": read + insert}


def invitations_table_insert(path: Path, rows: int) -> float:
    """What Portico's schema alone costs: the same rows inserted through the same
    fastest path into the invitations table as it is (its indexes, unique constraints
    and foreign keys), without checking anything, without tokens to compute (random
    values made beforehand), group links or emails. Emptied again afterwards."""
    import secrets

    from django.db import connection, transaction
    from django.utils import timezone
    from python_calamine import CalamineWorkbook

    from portico.accounts.models import User
    from portico.core.bulk import db_datetime, insert_rows, reserve_ids
    from portico.invitations.models import Invitation, InvitationBatch
    from portico.invitations.services.create import _INVITATION_COLUMNS

    data = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()[1:]
    actor = User.objects.create_user("bench.floor@bench.example")
    batch = InvitationBatch.objects.create(actor=actor)
    now = db_datetime(timezone.now())
    fixed = (False, "", actor.pk, True, batch.pk)
    values = [
        (*r[:4], *fixed, secrets.token_hex(16), secrets.token_hex(32), "pending", now, now, now, "")
        for r in data
    ]
    started = time.perf_counter()
    with transaction.atomic():
        ids = reserve_ids(Invitation, rows)
        insert_rows(
            Invitation._meta.db_table,
            _INVITATION_COLUMNS,
            [(pk, *row) for pk, row in zip(ids, values, strict=True)],
        )
    elapsed = time.perf_counter() - started
    # Empty again, storage included, so that the import starts on the same empty table.
    table = Invitation._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f'TRUNCATE "{table}" CASCADE')
        else:
            cursor.execute(f'DELETE FROM "{table}"')
    batch.delete()
    actor.delete()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM")
    return elapsed


def strip_schema() -> None:
    """For ``--bare-schema``: drop the invitations table's non-unique indexes and, on
    PostgreSQL, the foreign keys of the invitations, their group links and the outbox
    (SQLite declares them inside the table, where they cannot be dropped)."""
    from django.db import connection

    from portico.invitations.models import Invitation, InvitationMessage

    introspection = connection.introspection
    with connection.cursor() as cursor:
        table = Invitation._meta.db_table
        for name, about in introspection.get_constraints(cursor, table).items():
            if about["index"] and not about["unique"] and not about["primary_key"]:
                cursor.execute(f'DROP INDEX "{name}"')
        if connection.vendor != "postgresql":
            return
        for model in (Invitation, Invitation.groups.through, InvitationMessage):
            table = model._meta.db_table
            for name, about in introspection.get_constraints(cursor, table).items():
                if about["foreign_key"]:
                    cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')


def portico_import(path: Path, rows: int) -> dict[str, float]:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from portico.accounts.models import User
    from portico.groups.models import Group
    from portico.invitations.models import Invitation, InvitationMessage
    from portico.invitations.services.imports import (
        invitation_import_check,
        invitation_import_confirm,
        invitation_import_start,
        invitation_import_store,
    )
    from portico.invitations.services.planning import InviteOptions

    admin = User.objects.create_superuser("bench.admin@bench.example", "x" * 16)
    for name in GROUPS:
        Group.objects.create(name=name)
    upload = SimpleUploadedFile("residents.xlsx", path.read_bytes())

    started = time.perf_counter()
    invitation_import = invitation_import_start(actor=admin, upload=upload, options=InviteOptions())
    invitation_import = invitation_import_check(import_id=invitation_import.pk)
    checked = time.perf_counter()
    assert invitation_import.status == "ready", invitation_import.errors[:3]
    invitation_import_confirm(actor=admin, import_id=invitation_import.pk)
    invitation_import = invitation_import_store(import_id=invitation_import.pk, now=timezone.now())
    finished = time.perf_counter()
    assert invitation_import.status == "done"
    assert Invitation.objects.count() == rows
    assert InvitationMessage.objects.filter(sent_at__isnull=True).count() == rows
    return {"check": checked - started, "store": finished - checked, "total": finished - started}


def reimport(path: Path, rows: int) -> dict[str, float]:
    """The same file imported twice more, after :func:`portico_import`: over the pending
    invitations it created (every row merges: no email), then once they have all expired
    (every row renews its invitation and queues its email again). Upload to stored and
    queued, as for the first import."""
    from datetime import timedelta

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from portico.accounts.models import User
    from portico.invitations.models import Invitation, InvitationMessage
    from portico.invitations.services.imports import (
        invitation_import_check,
        invitation_import_confirm,
        invitation_import_start,
        invitation_import_store,
    )
    from portico.invitations.services.planning import InviteOptions

    admin = User.objects.get(email="bench.admin@bench.example")
    times = {}
    for label, expected in (("merge", "merged"), ("renew", "renewed")):
        if label == "renew":
            Invitation.objects.update(expires_at=timezone.now() - timedelta(days=1))
        upload = SimpleUploadedFile("residents.xlsx", path.read_bytes())
        started = time.perf_counter()
        started_import = invitation_import_start(
            actor=admin, upload=upload, options=InviteOptions()
        )
        checked = invitation_import_check(import_id=started_import.pk)
        assert checked.summary[expected] == rows, checked.summary
        invitation_import_confirm(actor=admin, import_id=checked.pk)
        done = invitation_import_store(import_id=checked.pk, now=timezone.now())
        times[label] = time.perf_counter() - started
        assert done.status == "done"
    assert Invitation.objects.count() == rows
    assert InvitationMessage.objects.filter(sent_at__isnull=True).count() == 2 * rows
    return times


def one_run(rows: int, *, again: bool = False, bare: bool = False) -> dict:
    """One measurement on its own throw-away database; returns its figures."""
    url, cleanup = prepare_database()
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portico.settings")
    # Tasks are only queued here: the benchmark stops once every email is queued.
    os.environ["TASKS_BACKEND"] = "django.tasks.backends.dummy.DummyBackend"
    media = tempfile.TemporaryDirectory()
    os.environ["MEDIA_ROOT"] = media.name
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    try:
        call_command("migrate", verbosity=0)
        if bare:
            strip_schema()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "residents.xlsx"
            make_file(path, rows)
            size = path.stat().st_size / 1e6
            floor_times = floor(path, rows)
            schema_insert = invitations_table_insert(path, rows)
            portico_times = portico_import(path, rows)
            again_times = reimport(path, rows) if again else None
    finally:
        cleanup()
        media.cleanup()
    return {
        "vendor": connection.vendor,
        "bare": bare,
        "size": size,
        "floor": floor_times,
        "schema_insert": schema_insert,
        "portico": portico_times,
        "again": again_times,
        "peak_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_reader": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def report(run: dict, rows: int) -> None:
    floor_times, portico_times = run["floor"], run["portico"]
    ratio = portico_times["total"] / floor_times["total"]
    print(
        f"database: {run['vendor']}   rows: {rows:,}   file: {run['size']:.1f} MB"
        + ("   schema: bare (--bare-schema)" if run.get("bare") else "")
    )
    print(
        f"floor    read (calamine) {floor_times['read']:6.2f} s   "
        f"insert ({'COPY' if run['vendor'] == 'postgresql' else 'executemany'}) "
        f"{floor_times['insert']:6.2f} s   total {floor_times['total']:6.2f} s"
    )
    print(
        f"portico  check (read + preview) {portico_times['check']:6.2f} s   "
        f"store + queue emails {portico_times['store']:6.2f} s   "
        f"total {portico_times['total']:6.2f} s"
    )
    print(
        f"ratio    {ratio:.2f}x the floor (target <= 3x); the check and preview alone, "
        f"which write no invitation, {portico_times['check'] / floor_times['total']:.2f}x"
    )
    schema = floor_times["read"] + run["schema_insert"]
    print(
        f"schema   read {floor_times['read']:.2f} s + insert into the invitations table "
        f"{'stripped (--bare-schema)' if run.get('bare') else 'as it is'} "
        f"(its indexes and constraints; no checks, tokens, links or emails) "
        f"{run['schema_insert']:.2f} s = {schema:.2f} s, "
        f"{schema / floor_times['total']:.2f}x the floor; "
        f"Portico is {portico_times['total'] / schema:.2f}x this"
    )
    if run.get("again"):
        for label, what in (
            ("merge", "the same file again (every row merges into its pending invitation)"),
            ("renew", "the same file once they expired (every row renews and re-sends)"),
        ):
            seconds = run["again"][label]
            print(
                f"again    {what}: {seconds:.2f} s, {seconds / floor_times['total']:.2f}x the floor"
            )
    print(
        f"peak memory: benchmark process {run['peak_self']:.0f} MB, "
        f"file reader child {run['peak_reader']:.0f} MB (target < 500 MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--runs", type=int, default=1, help="runs, each in its own process and database"
    )
    parser.add_argument(
        "--reimport",
        action="store_true",
        help="then import the same file over the pending invitations, and once expired",
    )
    parser.add_argument(
        "--bare-schema",
        action="store_true",
        help="drop the list indexes and (PostgreSQL) foreign keys first: what those levers buy",
    )
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.runs == 1:
        run = one_run(args.rows, again=args.reimport, bare=args.bare_schema)
        if args.json:
            print(json.dumps(run))
        else:
            report(run, args.rows)
        return
    # Several runs, each a fresh process (Django binds one database per process); the
    # run with the median ratio is reported in full, the others in one line each.
    runs = []
    for number in range(1, args.runs + 1):
        completed = subprocess.run(  # noqa: S603 (this very script)
            [
                sys.executable,
                __file__,
                "--rows",
                str(args.rows),
                "--json",
                *(["--reimport"] if args.reimport else []),
                *(["--bare-schema"] if args.bare_schema else []),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        run = json.loads(completed.stdout.strip().splitlines()[-1])
        run["ratio"] = run["portico"]["total"] / run["floor"]["total"]
        runs.append(run)
        print(
            f"run {number}: floor {run['floor']['total']:.2f} s, Portico "
            f"{run['portico']['total']:.2f} s, ratio {run['ratio']:.2f}x",
            flush=True,
        )
    median = sorted(runs, key=lambda r: r["ratio"])[len(runs) // 2]
    print(f"median of {len(runs)} runs:")
    report(median, args.rows)


if __name__ == "__main__":
    main()

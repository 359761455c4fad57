"""How fast "All invitations" answers and exports with 100,000 invitations, next to
baselines measured in the same run.

    .venv/bin/python benchmarks/list_100k.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portico .venv/bin/python benchmarks/list_100k.py

Runs on a throw-away database of the same kind as DATABASE_URL. Creates 100,000
invitations (through the import's storing path), then times, as a signed-in admin, the
admin page and the API for: the first page, a far page, a search by name, a status
filter and each sort. The baseline, measured in the same run, is the cheapest query
that could serve a page: `SELECT * ... ORDER BY id LIMIT 50` plus `SELECT count(*)`.
Each figure is the median of 5 runs.

Then the exports (.csv streamed, .xlsx written in constant memory) of all 100,000 rows:
their time and the peak Python memory they allocate (tracemalloc), next to the peak of
simply loading the same rows into a list, which is what an export that does not stream
would cost at least.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def median_ms(action, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    from django_setup import start_django

    cleanup = start_django()
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from portico.accounts.models import User
    from portico.invitations.models import InvitationBatch
    from portico.invitations.services.create import apply_plan
    from portico.invitations.services.planning import (
        InviteOptions,
        InviteRow,
        invitation_plan_batch,
    )

    try:
        admin = User.objects.create_superuser("bench.admin@bench.example", "x" * 16)
        rows = [
            InviteRow(
                position=i,
                email=f"resident{i}@bench.example",
                first_name=f"First{i}",
                last_name=f"Last{i}",
            )
            for i in range(1, 100_001)
        ]
        plan = invitation_plan_batch(rows=rows, options=InviteOptions(), where="row")
        batch = InvitationBatch.objects.create(actor=admin)
        apply_plan(actor=admin, plan=plan, batch=batch, now=timezone.now(), audit_each=False)

        client = Client()
        client.force_login(admin)

        def page(url: str):
            def get() -> None:
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)

            return get

        def baseline() -> None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM invitations_invitation")
                cursor.fetchone()
                cursor.execute("SELECT * FROM invitations_invitation ORDER BY id LIMIT 50")
                cursor.fetchall()

        cases = [
            ("baseline: count + 50 rows by id", baseline),
            ("page: first page (newest first)", page("/manage/invitations/")),
            ("page: page 1,000", page("/manage/invitations/?page=1000")),
            ("page: search 'resident4242'", page("/manage/invitations/?q=resident4242")),
            ("page: status=pending", page("/manage/invitations/?status=pending")),
            ("page: sort by name", page("/manage/invitations/?sort=name")),
            ("page: sort by email", page("/manage/invitations/?sort=email")),
            ("page: sort by status", page("/manage/invitations/?sort=status")),
            ("api: first page", page("/api/v1/invitations")),
            ("api: search + sort", page("/api/v1/invitations?q=First99&sort=-name")),
        ]
        print(f"database: {connection.vendor}   invitations: 100,000")
        for label, action in cases:
            print(f"{label:40s} {median_ms(action):8.1f} ms")

        from portico.invitations.models import Invitation

        def load_all() -> None:
            rows = list(
                Invitation.objects.values_list(
                    "email", "first_name", "last_name", "language", "status", "token_nonce"
                )
            )
            assert len(rows) == 100_000

        def export(file_format: str):
            def run() -> None:
                response = client.get(f"/manage/invitations/export/?format={file_format}")
                assert response.status_code == 200
                size = sum(len(part) for part in response.streaming_content)
                assert size > 1_000_000

            return run

        print()
        for label, action in [
            ("baseline: load all rows into a list", load_all),
            ("export .csv (streamed)", export("csv")),
            ("export .xlsx (constant memory)", export("xlsx")),
        ]:
            started = time.perf_counter()
            action()
            elapsed = time.perf_counter() - started
            tracemalloc.start()  # a second run, traced: tracing slows Python down
            action()
            peak = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
            print(f"{label:40s} {elapsed:8.2f} s   peak {peak:7.1f} MB")
    finally:
        cleanup()


if __name__ == "__main__":
    main()

"""Resend, then delete, 100,000 invitations by filter, next to baselines measured in the
same run.

    .venv/bin/python benchmarks/bulk_100k.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portico .venv/bin/python benchmarks/bulk_100k.py

Runs on a throw-away database of the same kind as DATABASE_URL. Creates 100,000
expired invitations, each promised a group (through the import's storing path), then,
as a signed-in admin, through the API (one request each, as an integrator would):

- ``POST /api/v1/invitations/bulk/resend {"filter": {"status": "expired"}}``: every
  invitation renewed, one outbox row and one audit entry each;
- ``POST /api/v1/invitations/bulk/delete {"filter": {"status": "pending"}}``: every
  invitation deleted with its group link and its outbox row, one audit entry each.

The baselines are the same changes made by hand in the fewest statements, rolled back
afterwards (foreign keys checked as each statement ends, since a rollback skips the
checks PostgreSQL makes at commit): for the resend, one UPDATE of every invitation plus
one INSERT ... SELECT of their outbox rows; for the delete, one DELETE per table. No
audit, no check, no chunk, no lock.
The peak Python memory of each operation is measured (tracemalloc) on a second run of
the same operation, on data put back as it was.
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

COUNT = 100_000


class Rollback(Exception):
    """Raised to undo a baseline once it is timed."""


def main() -> None:
    from django_setup import start_django

    cleanup = start_django()
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from portico.accounts.models import User
    from portico.core.models import AuditEvent
    from portico.groups.models import Group
    from portico.invitations.models import Invitation, InvitationBatch, InvitationMessage
    from portico.invitations.services.create import apply_plan
    from portico.invitations.services.planning import (
        InviteOptions,
        InviteRow,
        invitation_plan_batch,
    )

    invitations = Invitation._meta.db_table
    outbox = InvitationMessage._meta.db_table
    links = Invitation.groups.through._meta.db_table

    def timed(action) -> float:
        started = time.perf_counter()
        action()
        return time.perf_counter() - started

    def rolled_back(action) -> float:
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    # Foreign keys are checked at commit, which a rollback skips: check
                    # them as each statement ends instead, so that they are timed.
                    with connection.cursor() as cursor:
                        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                elapsed = timed(action)
                raise Rollback
        except Rollback:
            return elapsed

    def traced(action) -> float:
        tracemalloc.start()
        action()
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        return peak

    def expire_all() -> None:
        past = timezone.now() - timedelta(days=1)
        Invitation.objects.update(expires_at=past, status=Invitation.Status.EXPIRED)

    try:
        admin = User.objects.create_superuser("bench.admin@bench.example", "x" * 16)
        group = Group.objects.create(name="North Avenue Residents")
        rows = [
            InviteRow(position=i, email=f"resident{i}@bench.example", first_name=f"First{i}")
            for i in range(1, COUNT + 1)
        ]
        plan = invitation_plan_batch(
            rows=rows, options=InviteOptions(group_ids=[group.pk]), where="row"
        )
        batch = InvitationBatch.objects.create(actor=admin)
        apply_plan(actor=admin, plan=plan, batch=batch, now=timezone.now(), audit_each=False)
        InvitationMessage.objects.update(sent_at=timezone.now())  # delivered long ago
        expire_all()

        client = Client()
        client.force_login(admin)

        def api(operation: str, status: str):
            def call() -> None:
                response = client.post(
                    f"/api/v1/invitations/bulk/{operation}",
                    json.dumps({"filter": {"status": status}}),
                    content_type="application/json",
                )
                assert response.status_code == 200, response.content
                assert response.json()["succeeded"] == COUNT, response.content

            return call

        def resend_baseline() -> None:
            now = timezone.now()
            with connection.cursor() as cursor:
                cursor.execute(
                    f'UPDATE "{invitations}" SET status = %s, sent_at = %s, expires_at = %s,'
                    " reminder_sent_at = NULL WHERE status = %s",
                    ["pending", now, now + timedelta(days=30), "expired"],
                )
                assert cursor.rowcount == COUNT
                cursor.execute(
                    f'INSERT INTO "{outbox}" (invitation_id, kind, created_at, next_attempt_at,'
                    f" attempts, last_error) SELECT id, 'invitation', %s, %s, 0, ''"
                    f' FROM "{invitations}"',
                    [now, now],
                )

        def delete_baseline() -> None:
            with connection.cursor() as cursor:
                for table in (outbox, links):
                    cursor.execute(f'DELETE FROM "{table}"')
                cursor.execute(f'DELETE FROM "{invitations}"')
                assert cursor.rowcount == COUNT

        print(f"database: {connection.vendor}   invitations: {COUNT:,}")
        resend_floor = rolled_back(resend_baseline)
        resend = timed(api("resend", "expired"))
        assert InvitationMessage.objects.filter(sent_at__isnull=True).count() == COUNT
        assert AuditEvent.objects.filter(verb="invitation.resent").count() == COUNT
        expire_all()
        resend_peak = traced(api("resend", "expired"))
        print(f"{'baseline: one UPDATE + one INSERT':40s} {resend_floor:7.2f} s")
        print(
            f"{'resend by filter (API)':40s} {resend:7.2f} s   {resend / resend_floor:5.1f}x"
            f"   peak {resend_peak:6.1f} MB"
        )

        delete_floor = rolled_back(delete_baseline)
        delete = timed(api("delete", "pending"))
        assert not Invitation.objects.exists()
        assert AuditEvent.objects.filter(verb="invitation.deleted").count() == COUNT
        print(f"{'baseline: one DELETE per table':40s} {delete_floor:7.2f} s")
        # The same invitations again, for the traced run.
        apply_plan(actor=admin, plan=plan, batch=batch, now=timezone.now(), audit_each=False)
        delete_peak = traced(api("delete", "pending"))
        print(
            f"{'delete by filter (API)':40s} {delete:7.2f} s   {delete / delete_floor:5.1f}x"
            f"   peak {delete_peak:6.1f} MB"
        )
    finally:
        cleanup()


if __name__ == "__main__":
    main()

"""Migration 0005 (one checked plan per import): imports waiting for confirmation or
being stored are checked again from their file; finished imports keep their preview,
converted to the checked-plan format (see portico.invitations.services.import_plan)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from portico.invitations.models import InvitationImport

BEFORE = ("invitations", "0004_import_heartbeat")
CREATED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
OPTIONS = {"language": "en", "group_ids": [], "send_email": True}
SUMMARY = {"invited": 2, "codes": 1, "updated": 0, "merged": 0, "renewed": 0}


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    """A fresh executor each time: its loader reads what is applied now."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


def _old_preview(groups: str) -> list[list]:
    """A preview as the checks before 0005 kept it:
    ``[row, action, email, first, last, language, groups, admin]``, groups by name."""
    return [
        [2, "invite", "ann@x.example", "Ann", "Arbour", "fr-BE", groups, False],
        [3, "invite", "", "", "", "en", groups, True],
    ]


@pytest.fixture
def migrated(transactional_db) -> dict[str, int]:
    """Imports written before 0005, then every migration applied. The database is left
    fully migrated even when the migration fails, so that other tests are unaffected."""
    before = [node for node in _latest() if node[0] != BEFORE[0]] + [BEFORE]
    try:
        executor = _migrate(before)
        old = executor.loader.project_state(before).apps
        Group = old.get_model("groups", "Group")
        OldImport = old.get_model("invitations", "InvitationImport")

        garden = Group.objects.create(name="Garden Club")
        chess = Group.objects.create(name="Chess Society")
        common = {
            "filename": "members.xlsx",
            "options": OPTIONS,
            "created_at": CREATED,
            "rows_total": 2,
            "rows_checked": 2,
        }
        ready = OldImport.objects.create(
            status="ready",
            file="imports/2026/11/ready.upload",
            plan=_old_preview("Garden Club"),
            source_rows=[[2, "ann@x.example", "Ann", "Arbour", "fr-BE", None] + [None] * 5],
            summary=SUMMARY,
            confirmed_at=None,
            heartbeat_at=CREATED + timedelta(minutes=1),
            **common,
        )
        storing = OldImport.objects.create(
            status="storing",
            file="imports/2026/11/storing.upload",
            plan=_old_preview("Garden Club"),
            source_rows=[[2, "ann@x.example", "Ann", "Arbour", "fr-BE", None] + [None] * 5],
            summary=SUMMARY,
            confirmed_at=CREATED + timedelta(minutes=2),
            heartbeat_at=CREATED + timedelta(minutes=3),
            to_store=2,
            stored=1,
            stored_through=0,
            **common,
        )
        done_plan = [
            *_old_preview("Garden Club"),
            [4, "update_user", "cy@x.example", "Cy", "", "en", "chess society, Garden Club", False],
            [5, "invite", "di@x.example", "Di", "", "en", "", False],
            [6, "invite", "ed@x.example", "Ed", "", "en", "Garden Club, Deleted Group", False],
        ]
        done = OldImport.objects.create(
            status="done",
            file="imports/2026/11/done.upload",
            plan=done_plan,
            source_rows=[],
            summary=SUMMARY,
            confirmed_at=CREATED + timedelta(minutes=2),
            finished_at=CREATED + timedelta(minutes=4),
            heartbeat_at=CREATED + timedelta(minutes=3),
            to_store=5,
            stored=5,
            stored_through=4,
            emails_queued=4,
            warnings=[{"row": 5, "code": "some_warning"}],
            **{**common, "rows_total": 5, "rows_checked": 5},
        )
        ids = {
            "ready": ready.pk,
            "storing": storing.pk,
            "done": done.pk,
            "garden": garden.pk,
            "chess": chess.pk,
        }
        _migrate(_latest())
        yield ids
    finally:
        _migrate(_latest())


def _assert_checked_again(invitation_import: InvitationImport) -> None:
    assert invitation_import.status == "checking"
    assert invitation_import.plan == []
    assert invitation_import.summary == {}
    assert invitation_import.confirmed_at is None
    assert invitation_import.rows_checked == 0
    # Older than the stalled-import sweep's delay: the worker checks the file again.
    assert invitation_import.heartbeat_at == invitation_import.created_at == CREATED


def test_imports_waiting_for_confirmation_are_checked_again(migrated):
    _assert_checked_again(InvitationImport.objects.get(pk=migrated["ready"]))


def test_imports_being_stored_go_on_storing_from_their_file(migrated):
    """Their first rows may be stored (and emailed) already: they are not confirmed
    again; without a plan, storing plans from the file and resumes after those rows."""
    storing = InvitationImport.objects.get(pk=migrated["storing"])
    assert storing.status == "storing"
    assert storing.plan == []
    assert (storing.stored, storing.stored_through, storing.to_store) == (1, 0, 2)
    assert storing.confirmed_at == CREATED + timedelta(minutes=2)
    assert storing.summary == SUMMARY


def test_finished_imports_keep_their_preview_in_the_checked_format(migrated):
    garden, chess = migrated["garden"], migrated["chess"]
    done = InvitationImport.objects.get(pk=migrated["done"])
    # [row, action, email, first, last, language, admin, send_email, group_ids,
    #  message, target_id, replaces_id]; groups by id, whatever the case of their name.
    assert done.plan == [
        [2, "invite", "ann@x.example", "Ann", "Arbour", "fr-BE", False, False, [garden]]
        + [None] * 3,
        [3, "invite", None, "", "", "en", True, False, [garden], None, None, None],
        [4, "update_user", "cy@x.example", "Cy", "", "en", False, False, sorted([garden, chess])]
        + [None] * 3,
        [5, "invite", "di@x.example", "Di", "", "en", False, False, [], None, None, None],
        [6, "invite", "ed@x.example", "Ed", "", "en", False, False, [garden], None, None, None],
    ]


def test_finished_imports_are_otherwise_unchanged(migrated):
    done = InvitationImport.objects.get(pk=migrated["done"])
    assert done.status == "done"
    assert done.summary == SUMMARY
    assert done.options == OPTIONS
    assert done.filename == "members.xlsx"
    assert done.file.name == "imports/2026/11/done.upload"
    assert done.created_at == CREATED
    assert done.confirmed_at == CREATED + timedelta(minutes=2)
    assert done.heartbeat_at == CREATED + timedelta(minutes=3)
    assert done.finished_at == CREATED + timedelta(minutes=4)
    assert (done.rows_total, done.rows_checked) == (5, 5)
    assert (done.to_store, done.stored, done.stored_through, done.emails_queued) == (5, 5, 4, 4)
    assert done.warnings == [{"row": 5, "code": "some_warning"}]
    assert done.errors == []

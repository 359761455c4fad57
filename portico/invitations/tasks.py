"""Background tasks of the invitations: thin, each calls one service."""

from __future__ import annotations

from django.tasks import task
from django.utils import timezone

from portico.invitations.services.jobs import invitation_messages_deliver_due


@task()
def deliver_invitation_messages() -> int:
    """Send every due email of the outbox. Safe to run any number of times at once."""
    return invitation_messages_deliver_due(now=timezone.now())


def _run_import_step(step, import_id: int) -> str:
    """Run a step of an import; if it breaks, the import says so (status failed) rather
    than showing progress that never moves, and the error is still raised and logged."""
    from portico.invitations.services.imports import invitation_import_fail

    try:
        return step(import_id=import_id, now=timezone.now()).status
    except Exception as error:
        invitation_import_fail(
            import_id=import_id, now=timezone.now(), reason=f"{error.__class__.__name__}: {error}"
        )
        raise


@task()
def check_invitation_import(import_id: int) -> str:
    """Check an uploaded file and record its preview or its errors."""
    from portico.invitations.services.imports import invitation_import_check

    return _run_import_step(invitation_import_check, import_id)


@task()
def store_invitation_import(import_id: int) -> str:
    """Store a confirmed import in chunks and queue its emails."""
    from portico.invitations.services.imports import invitation_import_store

    return _run_import_step(invitation_import_store, import_id)


@task()
def draw_letter_print(print_id: int) -> str:
    """Draw a print's letters into its PDF; a failure is recorded on the print."""
    from portico.invitations.services.letters import letter_print_draw

    return letter_print_draw(print_id=print_id, now=timezone.now()).status

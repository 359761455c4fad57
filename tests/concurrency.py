"""Service calls made at the same moment, the way two admins, two browsers or two
workers make them."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections

from portico.core.errors import ApplicationError


def at_once(*calls: Callable[[], object]) -> list[object]:
    """Run each call in a thread of its own, all released together, and return their
    outcomes in the calls' order: what the call returned, the code of the
    ApplicationError it raised, or the repr of any other exception (so that a failed
    assertion shows it). Each thread closes its database connections when it ends.

    Needs ``django_db(transaction=True)``: the threads commit for real."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[index] = call()
        except ApplicationError as error:
            outcomes[index] = error.code
        except Exception as error:  # the test reports whatever happens
            outcomes[index] = repr(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a call never returned"
    return outcomes

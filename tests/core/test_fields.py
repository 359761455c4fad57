"""CompressedJSONField: Python values in and out, kept compressed in the database."""

from __future__ import annotations

import json
import zlib

import pytest
from django.db import connection

from portico.core.fields import CompressedJSONField
from portico.invitations.models import InvitationImport

pytestmark = pytest.mark.django_db

PLAN = [
    [row, "invite", f"p{row}@x.example", "Zoë", "", "nl-BE", False, True, None]
    for row in range(2, 2002)
]


def _stored_bytes(pk: int) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT plan FROM "{InvitationImport._meta.db_table}" WHERE id = %s',  # noqa: S608
            [pk],
        )
        return bytes(cursor.fetchone()[0])


def test_a_document_comes_back_as_it_went_in_and_is_stored_compressed():
    invitation_import = InvitationImport.objects.create(filename="f", file="f", plan=PLAN)

    assert InvitationImport.objects.get(pk=invitation_import.pk).plan == PLAN
    stored = _stored_bytes(invitation_import.pk)
    assert json.loads(zlib.decompress(stored)) == PLAN
    assert len(stored) < len(json.dumps(PLAN)) / 5


def test_updates_and_the_default_are_documents_too():
    invitation_import = InvitationImport.objects.create(filename="f", file="f")
    assert InvitationImport.objects.get(pk=invitation_import.pk).plan == []

    InvitationImport.objects.filter(pk=invitation_import.pk).update(plan={"a": [1, None]})
    assert InvitationImport.objects.get(pk=invitation_import.pk).plan == {"a": [1, None]}


def test_none_stays_none_and_serialises_as_json():
    field = CompressedJSONField(null=True)
    assert field.get_prep_value(None) is None
    assert field.from_db_value(None, None, connection) is None
    assert field.to_python(field.get_prep_value([1, "é"])) == [1, "é"]
    invitation_import = InvitationImport(plan=[1, "é"])
    assert json.loads(
        InvitationImport._meta.get_field("plan").value_to_string(invitation_import)
    ) == [1, "é"]


def test_a_serialised_document_loads_back():
    field = InvitationImport._meta.get_field("plan")
    invitation_import = InvitationImport(plan=[[2, "invite", "ann@x.example"]])
    assert field.to_python(field.value_to_string(invitation_import)) == [
        [2, "invite", "ann@x.example"]
    ]

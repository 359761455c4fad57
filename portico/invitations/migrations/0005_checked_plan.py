"""Imports keep one checked plan (see services/import_plan.py) instead of a preview
plus the rows read from the file.

Imports waiting for confirmation go back to "checking": their old preview lacks what
storing now needs, so the worker checks their file again (the stalled-import sweep
picks them up) and the admin confirms the new preview. Imports being stored keep
storing, without a plan: storing then plans from the file, and resumes after the rows
already stored. Finished imports keep their preview, converted.
"""

from django.db import migrations

_WAITING = ("ready",)


def convert_plans(apps, schema_editor):
    InvitationImport = apps.get_model("invitations", "InvitationImport")
    Group = apps.get_model("groups", "Group")
    group_ids = {name.lower(): pk for pk, name in Group.objects.values_list("pk", "name")}
    for invitation_import in InvitationImport.objects.exclude(plan=[]):
        if invitation_import.status == "storing":
            invitation_import.plan = []
        elif invitation_import.status in _WAITING:
            invitation_import.status = "checking"
            invitation_import.plan = []
            invitation_import.summary = {}
            invitation_import.confirmed_at = None
            invitation_import.rows_checked = 0
            invitation_import.heartbeat_at = invitation_import.created_at
        else:
            invitation_import.plan = [
                [
                    row,
                    action,
                    email or None,
                    first,
                    last,
                    language,
                    admin,
                    False,
                    sorted(group_ids[n.lower()] for n in groups.split(", ") if n.lower() in group_ids),
                    None,
                    None,
                    None,
                ]
                for row, action, email, first, last, language, groups, admin in invitation_import.plan
            ]
        invitation_import.save()


class Migration(migrations.Migration):
    dependencies = [
        ("groups", "0001_initial"),
        ("invitations", "0004_import_heartbeat"),
    ]

    operations = [
        migrations.RunPython(convert_plans, migrations.RunPython.noop),
        migrations.RemoveField(model_name="invitationimport", name="source_rows"),
    ]

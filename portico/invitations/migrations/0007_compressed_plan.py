"""An import's plan is kept compressed (see portico.core.fields.CompressedJSONField).

The column changes type (jsonb or text to bytes), which no database casts by itself:
the plans move to a new column and the old one goes.
"""

from django.db import migrations

import portico.core.fields


def copy_plans(apps, schema_editor):
    InvitationImport = apps.get_model("invitations", "InvitationImport")
    for invitation_import in InvitationImport.objects.only("plan_json").iterator(chunk_size=50):
        invitation_import.plan = invitation_import.plan_json
        invitation_import.save(update_fields=["plan"])


def copy_plans_back(apps, schema_editor):
    InvitationImport = apps.get_model("invitations", "InvitationImport")
    for invitation_import in InvitationImport.objects.only("plan").iterator(chunk_size=50):
        invitation_import.plan_json = invitation_import.plan
        invitation_import.save(update_fields=["plan_json"])


class Migration(migrations.Migration):
    dependencies = [
        ("invitations", "0006_leaner_indexes"),
    ]

    operations = [
        migrations.RenameField("invitationimport", "plan", "plan_json"),
        migrations.AddField(
            model_name="invitationimport",
            name="plan",
            field=portico.core.fields.CompressedJSONField(blank=True, default=list),
        ),
        migrations.RunPython(copy_plans, copy_plans_back),
        migrations.RemoveField("invitationimport", "plan_json"),
    ]

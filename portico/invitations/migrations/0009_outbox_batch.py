"""Each outbox entry names the batch whose storing queued it, so that an import's
"emails sent" bar counts exactly its own emails (renewed invitations keep the batch that
first created them, so counting through the invitation missed them and the bar never
finished).

Existing invitation emails take their invitation's batch: what the bar counted before.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def link_existing(apps, schema_editor):
    Invitation = apps.get_model("invitations", "Invitation")
    InvitationMessage = apps.get_model("invitations", "InvitationMessage")
    InvitationMessage.objects.filter(kind="invitation").update(
        batch_id=Subquery(
            Invitation.objects.filter(pk=OuterRef("invitation_id")).values("batch_id")
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("invitations", "0008_letter_print"),
    ]

    operations = [
        migrations.AddField(
            model_name="invitationmessage",
            name="batch",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="invitations.invitationbatch",
            ),
        ),
        migrations.RunPython(link_existing, migrations.RunPython.noop),
    ]

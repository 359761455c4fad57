"""Token lookup hashes become keyed (HMAC with PORTICO_TOKEN_KEY): recompute them from
the stored nonces, so that every outstanding token keeps working."""

from django.db import migrations


def rehash(apps, schema_editor):
    from portico.invitations import tokens

    Invitation = apps.get_model("invitations", "Invitation")
    key = tokens.current_key()
    batch = []
    for invitation in Invitation.objects.only("id", "token_nonce").iterator(chunk_size=2000):
        canonical = tokens.token_for_nonce(invitation.token_nonce, key=key)
        invitation.token_hash = tokens.lookup_hash(canonical, key=key)
        batch.append(invitation)
        if len(batch) == 2000:
            Invitation.objects.bulk_update(batch, ["token_hash"])
            batch = []
    Invitation.objects.bulk_update(batch, ["token_hash"])


class Migration(migrations.Migration):
    dependencies = [("invitations", "0002_imports")]

    operations = [migrations.RunPython(rehash, migrations.RunPython.noop)]

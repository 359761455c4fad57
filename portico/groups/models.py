from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class Group(models.Model):
    """A group of users. *Manual* groups have members that admins add and remove;
    *smart* groups have rules, and their members are whoever matches all the rules."""

    class Kind(models.TextChoices):
        MANUAL = "manual", _("Manual")
        SMART = "smart", _("Smart")

    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.MANUAL)
    # Smart groups only: [{"field": "email_domain" | "language" | "role", "value": "..."}]
    rules = models.JSONField(_("rules"), default=list, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Membership",
        related_name="manual_groups",
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = [Lower("name")]
        constraints = [models.UniqueConstraint(Lower("name"), name="groups_group_name_ci_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_smart(self) -> bool:
        return self.kind == self.Kind.SMART


class Membership(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="groups_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id}"

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Project(models.Model):
    """A participation project and who may see and take part in it."""

    class Visibility(models.TextChoices):
        EVERYONE = "everyone", _("Everyone")
        ADMINS = "admins", _("Admins only")
        GROUPS = "groups", _("Members of chosen groups")

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    visibility = models.CharField(
        _("visibility"), max_length=16, choices=Visibility.choices, default=Visibility.EVERYONE
    )
    groups = models.ManyToManyField(
        "groups.Group", related_name="projects", blank=True, verbose_name=_("groups")
    )
    moderators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="moderated_projects",
        blank=True,
        verbose_name=_("moderators"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from portico.accounts.models import User
from portico.groups.models import Group
from portico.projects.models import Project


class ProjectContentForm(forms.Form):
    """What a moderator may change."""

    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea, required=False)


class ProjectForm(ProjectContentForm):
    """What an admin may change."""

    visibility = forms.ChoiceField(
        label=_("Who can see it"), choices=Project.Visibility.choices, widget=forms.RadioSelect
    )
    groups = forms.ModelMultipleChoiceField(
        label=_("Groups"),
        queryset=Group.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only for projects open to members of chosen groups."),
    )
    moderators = forms.ModelMultipleChoiceField(
        label=_("Moderators"),
        queryset=User.objects.filter(is_active=True),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )

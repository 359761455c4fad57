"""Forms of the admin area: shapes only, rules are in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from portico.core.languages import language_choices
from portico.groups.models import Group
from portico.groups.rules import RULE_FIELDS
from portico.projects.models import Project

RULE_ROWS = 3


class GroupForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )


class GroupCreateForm(GroupForm):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=Group.Kind.choices,
        widget=forms.RadioSelect,
        initial=Group.Kind.MANUAL,
        help_text=_(
            "Smart groups have no hand-picked members: whoever matches all their rules is a member."
        ),
    )


class RulesForm(forms.Form):
    """The rules of a smart group, as rule_field_N / rule_value_N pairs: RULE_ROWS rows,
    or ``rows`` when the group already has more rules (the API allows any number), so
    that saving the page never drops a rule and thereby widens the group."""

    def __init__(self, *args, rows: int = RULE_ROWS, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = max(RULE_ROWS, rows)
        choices = [("", "—"), *RULE_FIELDS.items()]
        for n in range(self.rows):
            self.fields[f"rule_field_{n}"] = forms.ChoiceField(
                label=_("Rule"), choices=choices, required=False
            )
            self.fields[f"rule_value_{n}"] = forms.CharField(
                label=_("Value"),
                required=False,
                help_text=_(
                    "A domain such as city.example, a language code such as nl-BE, "
                    "or a role: admin or moderator."
                ),
            )

    def rules(self) -> list[dict[str, str]]:
        rules = []
        for n in range(self.rows):
            field = self.cleaned_data.get(f"rule_field_{n}")
            if field:
                rules.append(
                    {"field": field, "value": self.cleaned_data.get(f"rule_value_{n}", "")}
                )
        return rules

    @staticmethod
    def initial_for(rules: list[dict[str, str]]) -> dict[str, str]:
        initial = {}
        for n, rule in enumerate(rules):
            initial[f"rule_field_{n}"] = rule["field"]
            initial[f"rule_value_{n}"] = rule["value"]
        return initial


class AddMembersForm(forms.Form):
    emails = forms.CharField(
        label=_("Add members"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Email addresses of registered users, separated by commas or new lines."),
    )


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("What the token is for, e.g. 'CRM sync'.")
    )
    email = forms.EmailField(
        label=_("For user"), required=False, help_text=_("Leave empty for a token of your own.")
    )


class InviteForm(forms.Form):
    """Invite people, tab "Enter email addresses": the shape of the batch options."""

    emails = forms.CharField(
        label=_("Email addresses"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "Separate addresses with commas, semicolons or new lines. “Name <address>” works too."
        ),
    )
    is_admin = forms.BooleanField(label=_("Give admin rights"), required=False)
    moderator = forms.BooleanField(label=_("Give project moderator rights"), required=False)
    projects = forms.ModelMultipleChoiceField(
        label=_("Projects to moderate"),
        queryset=Project.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    groups = forms.ModelMultipleChoiceField(
        label=_("Add to groups"),
        queryset=Group.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Smart groups follow their rules: nobody is added to them by hand."),
    )
    language = forms.ChoiceField(label=_("Language of the invitation"), choices=language_choices)
    message = forms.CharField(
        label=_("Personal message"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Added to the email. Bold, italics, lists and links are kept."),
    )


class InvitePreviewForm(forms.Form):
    """What "Preview the email" reads from the invite form: nothing is required, so that
    the email can be previewed before any address is typed. The language is checked by
    the preview itself (``unknown_locale``)."""

    emails = forms.CharField(required=False)
    language = forms.CharField(required=False)
    message = forms.CharField(required=False)


class InvitationAddressForm(forms.Form):
    """The new address of an invitation; the service checks that it is valid and free."""

    email = forms.CharField(
        label=_("New email address"),
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
        strip=True,
    )


class _BatchOptionsForm(forms.Form):
    is_admin = InviteForm.base_fields["is_admin"]
    moderator = InviteForm.base_fields["moderator"]
    projects = InviteForm.base_fields["projects"]
    groups = InviteForm.base_fields["groups"]
    language = InviteForm.base_fields["language"]


class ImportForm(_BatchOptionsForm):
    """Invite people, tab "Import a file": the file and the options its empty cells
    fall back to."""

    file = forms.FileField(
        label=_("Spreadsheet or CSV file"),
        help_text=_(
            "The template filled in (.xlsx), or a CSV file with the same columns "
            "(UTF-8, comma or semicolon separated). Cells override the options "
            "below; empty cells use them."
        ),
    )
    message = InviteForm.base_fields["message"]
    send_email = forms.BooleanField(
        label=_("Send the invitation emails"), required=False, initial=True
    )
    field_order = ["file"]


class CodesForm(_BatchOptionsForm):
    """Invite people, tab "Generate codes": the template with empty email cells, one row
    per code."""

    file = forms.FileField(
        label=_("Spreadsheet or CSV file"),
        help_text=_(
            "One row per code, the email cell left empty; usually a group in the "
            "groups column. No email is sent: export the codes or print letters."
        ),
    )
    field_order = ["file"]

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class EnterCodeForm(forms.Form):
    token = forms.CharField(
        label=_("Your invitation code"),
        max_length=64,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
        help_text=_(
            "The code from your letter or email, for example 7KQ2-M9XD-4HTB-RW. "
            "Capitals, spaces and dashes do not matter."
        ),
    )


class AcceptForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"), required=False, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, fixed_email: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if fixed_email:
            # The address the invitation proved; shown, never editable.
            self.fields["email"].disabled = True
            self.fields["email"].initial = fixed_email
        else:
            self.fields["email"].required = True


class ResendForm(forms.Form):
    email = forms.EmailField()

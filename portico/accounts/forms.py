"""Forms check shapes only; rules live in the services."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from portico.core.languages import language_choices


def password_help_text() -> str:
    """Django's password rules as an HTML list, marked safe: templates escape every
    other help text. A callable, so templates build it (translated) at render time."""
    # Django builds the list with format_html, escaping each validator's text.
    return mark_safe(password_validation.password_validators_help_text_html())


class SignInForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ProfileForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=language_choices)


class SignUpForm(ProfileForm):
    email = forms.EmailField(
        label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_help_text,
    )
    field_order = ["email", "first_name", "last_name", "language", "password"]

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            from portico.accounts.models import User

            probe = User(
                email=cleaned.get("email", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                password_validation.validate_password(password, probe)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


class ResendVerificationForm(forms.Form):
    email = forms.EmailField(label=_("Email"))


class PasswordResetForm(DjangoPasswordResetForm):
    """Django's reset form, with the message sent by the worker in the person's language."""

    def get_users(self, email):
        from portico.accounts.models import User

        return User.objects.filter(email__iexact=email.strip(), is_active=True)

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        from django.conf import settings

        from portico.core.mail import send_email_after_commit

        user = context["user"]
        link = settings.BASE_URL + f"/accounts/reset/{context['uid']}/{context['token']}/"
        send_email_after_commit(
            to=[to_email],
            template="accounts/email/password_reset",
            language=user.language,
            context={"name": user.first_name or user.email, "link": link},
        )

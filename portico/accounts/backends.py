from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from portico.accounts.models import User, normalize_email


class EmailBackend(ModelBackend):
    """Signs in with an email address, whatever its case."""

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        email = email or username
        if not email or password is None:
            return None
        try:
            user = User.objects.get(email__iexact=normalize_email(email))
        except User.DoesNotExist:
            User().set_password(password)  # same work as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id):
        try:
            user = User.objects.get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

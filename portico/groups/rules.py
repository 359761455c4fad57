"""Smart-group rules: what they may say, how they are checked and how they match.

A rule is ``{"field": ..., "value": ...}``; a user matches a smart group when they match
every rule (a smart group without rules matches nobody, so that a half-made group never
opens a project to everyone).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portico.core.errors import ApplicationError
from portico.core.languages import resolve_language

RULE_FIELDS = {
    "email_domain": gettext_lazy("Email domain is"),
    "language": gettext_lazy("Language is"),
    "role": gettext_lazy("Has role"),
}
ROLES = {"admin": gettext_lazy("Platform admin"), "moderator": gettext_lazy("Project moderator")}


def clean_rules(rules: Any) -> list[dict[str, str]]:
    """Validate and normalise rules; raises ``invalid_rule`` (422) naming the rule."""
    if not isinstance(rules, list):
        raise ApplicationError("invalid_rule", _("Rules must be a list."), field="rules")
    cleaned: list[dict[str, str]] = []
    for position, rule in enumerate(rules, start=1):
        field = rule.get("field") if isinstance(rule, dict) else None
        value = str(rule.get("value", "")).strip() if isinstance(rule, dict) else ""
        if field not in RULE_FIELDS:
            raise ApplicationError(
                "invalid_rule",
                _("Rule %(n)s: unknown field %(field)r.") % {"n": position, "field": field},
                position=position,
                value=field,
            )
        if field == "email_domain":
            value = value.lstrip("@").lower()
            if not value or "@" in value or "." not in value or " " in value:
                raise ApplicationError(
                    "invalid_rule",
                    _("Rule %(n)s: %(value)r is not an email domain.")
                    % {"n": position, "value": value},
                    position=position,
                    value=value,
                )
        elif field == "language":
            resolved = resolve_language(value)
            if resolved is None:
                raise ApplicationError(
                    "invalid_rule",
                    _("Rule %(n)s: %(value)r is not a platform language.")
                    % {"n": position, "value": value},
                    position=position,
                    value=value,
                )
            value = resolved
        elif value not in ROLES:
            raise ApplicationError(
                "invalid_rule",
                _("Rule %(n)s: %(value)r is not a role.") % {"n": position, "value": value},
                position=position,
                value=value,
            )
        cleaned.append({"field": field, "value": value})
    return cleaned


def _rule_q(rule: dict[str, str]) -> Q:
    from portico.projects.models import Project

    field, value = rule["field"], rule["value"]
    if field == "email_domain":
        return Q(email__iendswith="@" + value)
    if field == "language":
        return Q(language__iexact=value)
    if value == "admin":
        return Q(is_admin=True)
    return Q(Exists(Project.moderators.through.objects.filter(user_id=OuterRef("pk"))))


def rules_q(rules: list[dict[str, str]]) -> Q:
    """A filter on users that selects exactly the members of a smart group."""
    if not rules:
        return Q(pk__in=[])
    query = Q(is_active=True)
    for rule in rules:
        query &= _rule_q(rule)
    return query


def user_matches(user: Any, rules: list[dict[str, str]], *, is_moderator: bool) -> bool:
    """The same test as :func:`rules_q`, in Python, for one user already loaded."""
    if not rules or not user.is_active:
        return False
    for rule in rules:
        field, value = rule["field"], rule["value"]
        if field == "email_domain" and not user.email.lower().endswith("@" + value.lower()):
            return False
        if field == "language" and user.language.lower() != value.lower():
            return False
        if field == "role" and value == "admin" and not user.is_admin:
            return False
        if field == "role" and value == "moderator" and not is_moderator:
            return False
    return True

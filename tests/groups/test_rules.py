"""Smart-group rules: what clean_rules accepts and how membership is computed, in SQL
(``group_members``) and in Python (``group_ids_for_user``), which must always agree."""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portico.core.errors import ApplicationError
from portico.groups.models import Group
from portico.groups.rules import clean_rules
from portico.groups.selectors import group_ids_for_user, group_members
from portico.projects.models import Project
from tests.conftest import make_user


def smart_group(rules: list[dict[str, str]], name: str = "Smart") -> Group:
    return Group.objects.create(name=name, kind=Group.Kind.SMART, rules=clean_rules(rules))


def members_by_sql(group: Group) -> set[str]:
    return set(group_members(group).values_list("email", flat=True))


def is_member_by_python(user, group: Group) -> bool:
    return group.pk in group_ids_for_user(user)


def invalid_rule(rules) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        clean_rules(rules)
    assert caught.value.code == "invalid_rule"
    return caught.value


# --- clean_rules: what is accepted, and in which spelling ---------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("city.example", "city.example"),
        ("@city.example", "city.example"),
        ("  @City.EXAMPLE ", "city.example"),
        ("Sub.City.Example", "sub.city.example"),
    ],
)
def test_clean_rules_strips_the_at_sign_and_lowercases_an_email_domain(typed, stored):
    assert clean_rules([{"field": "email_domain", "value": typed}]) == [
        {"field": "email_domain", "value": stored}
    ]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("nl-BE", "nl-BE"), ("nl-be", "nl-BE"), ("NL-BE", "nl-BE"), ("nl_be", "nl-BE"), ("EN", "en")],
)
def test_clean_rules_stores_a_language_in_the_platform_spelling(typed, stored):
    assert clean_rules([{"field": "language", "value": typed}]) == [
        {"field": "language", "value": stored}
    ]


@pytest.mark.parametrize("role", ["admin", "moderator"])
def test_clean_rules_accepts_the_admin_and_moderator_roles(role):
    assert clean_rules([{"field": "role", "value": f" {role} "}]) == [
        {"field": "role", "value": role}
    ]


def test_clean_rules_keeps_several_rules_in_their_order():
    rules = [
        {"field": "role", "value": "moderator"},
        {"field": "email_domain", "value": "@City.example"},
        {"field": "language", "value": "fr-be"},
    ]
    assert clean_rules(rules) == [
        {"field": "role", "value": "moderator"},
        {"field": "email_domain", "value": "city.example"},
        {"field": "language", "value": "fr-BE"},
    ]


def test_clean_rules_accepts_an_empty_list():
    assert clean_rules([]) == []


def test_clean_rules_rejects_rules_that_are_not_a_list():
    error = invalid_rule({"field": "role", "value": "admin"})
    assert error.details["field"] == "rules"


@pytest.mark.parametrize(
    "rule",
    [
        {"field": "age", "value": "42"},
        {"field": "", "value": "admin"},
        {"value": "admin"},
        "role=admin",
        None,
    ],
)
def test_clean_rules_rejects_an_unknown_field(rule):
    error = invalid_rule([rule])
    assert error.details["position"] == 1


@pytest.mark.parametrize("domain", ["", "@", "city", "rita@city.example", "city example.org", "@@"])
def test_clean_rules_rejects_what_is_not_an_email_domain(domain):
    error = invalid_rule([{"field": "email_domain", "value": domain}])
    assert error.details["position"] == 1


@pytest.mark.parametrize("language", ["", "de", "nl", "nl-NL", "klingon"])
def test_clean_rules_rejects_a_language_the_platform_does_not_have(language):
    error = invalid_rule([{"field": "language", "value": language}])
    assert error.details == {"position": 1, "value": language}


@pytest.mark.parametrize("role", ["", "owner", "resident", "superuser"])
def test_clean_rules_rejects_an_unknown_role(role):
    error = invalid_rule([{"field": "role", "value": role}])
    assert error.details == {"position": 1, "value": role}


def test_clean_rules_names_the_position_of_the_bad_rule_counted_from_one():
    error = invalid_rule(
        [
            {"field": "role", "value": "admin"},
            {"field": "language", "value": "en"},
            {"field": "email_domain", "value": "not a domain"},
        ]
    )
    assert error.details["position"] == 3
    assert error.message.startswith("Rule 3:")


def test_an_invalid_rule_is_a_validation_error_422():
    # As clean_rules documents: the API answers 422, like every other validation error.
    assert invalid_rule([{"field": "role", "value": "owner"}]).status == 422


# --- membership: SQL and Python, rule by rule -----------------------------------------


@pytest.fixture
def cast(db):
    """Users that differ in one trait at a time."""
    project = Project.objects.create(title="Somewhere")
    users = {
        "city_en": make_user("anna@city.example"),
        "city_upper_local": make_user("Bert.Upper@CITY.example"),
        "city_nl": make_user("carla@city.example", language="nl-BE"),
        "subdomain": make_user("dirk@sub.city.example"),
        "lookalike": make_user("eva@mycity.example"),
        "other_nl": make_user("frank@elsewhere.example", language="nl-BE"),
        "admin": make_user("gina@elsewhere.example", is_admin=True),
        "city_admin": make_user("hans@city.example", is_admin=True),
        "moderator": make_user("ines@elsewhere.example"),
        "city_nl_moderator": make_user("jan@city.example", language="nl-BE"),
        "blocked_city": make_user("kim@city.example", is_active=False),
    }
    project.moderators.add(users["moderator"], users["city_nl_moderator"])
    return users


def assert_members(group: Group, cast: dict, expected: set[str]) -> None:
    expected_emails = {cast[key].email for key in expected}
    assert members_by_sql(group) == expected_emails
    by_python = {user.email for user in cast.values() if is_member_by_python(user, group)}
    assert by_python == expected_emails


def test_an_email_domain_rule_matches_that_domain_exactly_whatever_the_case(cast):
    group = smart_group([{"field": "email_domain", "value": "@City.Example"}])
    assert_members(
        group, cast, {"city_en", "city_upper_local", "city_nl", "city_admin", "city_nl_moderator"}
    )


def test_a_language_rule_matches_users_of_that_language(cast):
    group = smart_group([{"field": "language", "value": "nl-be"}])
    assert_members(group, cast, {"city_nl", "other_nl", "city_nl_moderator"})


def test_a_language_rule_matches_a_language_stored_in_another_case(cast):
    # Accounts store the platform spelling, but rows written by older code may not.
    type(cast["city_en"]).objects.filter(pk=cast["city_en"].pk).update(language="NL-be")
    cast["city_en"].refresh_from_db()
    group = smart_group([{"field": "language", "value": "nl-BE"}])
    assert_members(group, cast, {"city_en", "city_nl", "other_nl", "city_nl_moderator"})


def test_an_admin_role_rule_matches_platform_admins(cast):
    group = smart_group([{"field": "role", "value": "admin"}])
    assert_members(group, cast, {"admin", "city_admin"})


def test_a_moderator_role_rule_matches_moderators_of_any_project(cast):
    group = smart_group([{"field": "role", "value": "moderator"}])
    assert_members(group, cast, {"moderator", "city_nl_moderator"})


def test_a_user_who_no_longer_moderates_leaves_a_moderator_group(cast):
    group = smart_group([{"field": "role", "value": "moderator"}])
    Project.objects.get(title="Somewhere").moderators.remove(cast["moderator"])
    assert_members(group, cast, {"city_nl_moderator"})


def test_a_smart_group_member_matches_all_rules_not_any(cast):
    group = smart_group(
        [
            {"field": "email_domain", "value": "city.example"},
            {"field": "language", "value": "nl-BE"},
            {"field": "role", "value": "moderator"},
        ]
    )
    assert_members(group, cast, {"city_nl_moderator"})


def test_an_email_domain_and_admin_role_rules_together(cast):
    group = smart_group(
        [{"field": "email_domain", "value": "city.example"}, {"field": "role", "value": "admin"}]
    )
    assert_members(group, cast, {"city_admin"})


def test_contradicting_rules_match_nobody(cast):
    group = smart_group(
        [
            {"field": "email_domain", "value": "city.example"},
            {"field": "email_domain", "value": "elsewhere.example"},
        ]
    )
    assert_members(group, cast, set())


def test_a_blocked_user_is_not_a_member_of_a_smart_group_they_match(cast):
    group = smart_group([{"field": "email_domain", "value": "city.example"}])
    assert cast["blocked_city"].email not in members_by_sql(group)
    assert not is_member_by_python(cast["blocked_city"], group)


def test_blocking_a_user_takes_them_out_of_smart_groups(cast):
    group = smart_group([{"field": "role", "value": "admin"}])
    user = cast["admin"]
    user.is_active = False
    user.save()
    assert_members(group, cast, {"city_admin"})


def test_a_smart_group_without_rules_matches_nobody(cast):
    group = Group.objects.create(name="Half made", kind=Group.Kind.SMART, rules=[])
    assert_members(group, cast, set())


def test_manual_memberships_do_not_make_anyone_a_smart_group_member(cast):
    group = smart_group([{"field": "role", "value": "admin"}])
    # A stray membership row (smart groups never get one from the services) is ignored.
    group.memberships.create(user=cast["city_en"])
    assert_members(group, cast, {"admin", "city_admin"})


def test_group_ids_for_user_combines_manual_and_smart_groups(cast):
    manual = Group.objects.create(name="Hand picked")
    manual.memberships.create(user=cast["city_nl"])
    city = smart_group([{"field": "email_domain", "value": "city.example"}], name="City")
    dutch = smart_group([{"field": "language", "value": "nl-BE"}], name="Dutch")
    smart_group([{"field": "role", "value": "admin"}], name="Admins")
    assert group_ids_for_user(cast["city_nl"]) == {manual.pk, city.pk, dutch.pk}


def test_group_ids_for_user_is_empty_for_an_anonymous_visitor(db):
    from django.contrib.auth.models import AnonymousUser

    smart_group([{"field": "role", "value": "admin"}])
    assert group_ids_for_user(AnonymousUser()) == set()


# --- property: the SQL and the Python computation agree --------------------------------

DOMAINS = ["city.example", "sub.city.example", "mycity.example", "city.example.org", "x.be"]
LANGUAGES = ["en", "nl-BE", "fr-BE"]


def _random_case(draw, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flip else c.lower() for c, flip in zip(text, flips, strict=True))


@st.composite
def people(draw):
    return {
        "local": draw(st.sampled_from(["ann", "Bob", "c.d", "e_f", "G-H"])),
        "domain": draw(st.sampled_from(DOMAINS)),
        "language": draw(st.sampled_from(LANGUAGES)),
        "is_admin": draw(st.booleans()),
        "is_active": draw(st.booleans()),
        "moderates": draw(st.booleans()),
    }


@st.composite
def typed_rules(draw):
    """Rules as an admin might type them: any case, with or without '@'."""
    rules = []
    for field in draw(st.lists(st.sampled_from(["email_domain", "language", "role"]), max_size=3)):
        if field == "email_domain":
            value = draw(st.sampled_from(["", "@"])) + _random_case(
                draw, draw(st.sampled_from(DOMAINS))
            )
        elif field == "language":
            value = _random_case(draw, draw(st.sampled_from(LANGUAGES)))
        else:
            value = draw(st.sampled_from(["admin", "moderator"]))
        rules.append({"field": field, "value": value})
    return rules


def expected_member(person: dict, rules: list[dict[str, str]]) -> bool:
    """The product's definition, written independently of the code under test."""
    if not rules or not person["is_active"]:
        return False
    for rule in rules:
        value = rule["value"]
        if rule["field"] == "email_domain" and person["domain"] != value.lstrip("@").lower():
            return False
        if rule["field"] == "language" and person["language"].lower() != value.lower():
            return False
        if rule["field"] == "role" and value == "admin" and not person["is_admin"]:
            return False
        if rule["field"] == "role" and value == "moderator" and not person["moderates"]:
            return False
    return True


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(crowd=st.lists(people(), min_size=1, max_size=6), rules=typed_rules())
def test_sql_and_python_membership_agree_with_the_rules(crowd, rules):
    with transaction.atomic():
        project = Project.objects.create(title="Any")
        users = []
        for n, person in enumerate(crowd):
            user = make_user(
                f"{person['local']}{n}@{person['domain']}",
                is_admin=person["is_admin"],
                is_active=person["is_active"],
                language=person["language"],
            )
            if person["moderates"]:
                project.moderators.add(user)
            users.append(user)
        group = Group.objects.create(name="Prop", kind=Group.Kind.SMART, rules=clean_rules(rules))

        by_sql = set(group_members(group).values_list("pk", flat=True))
        by_python = {user.pk for user in users if group.pk in group_ids_for_user(user)}
        expected = {
            user.pk
            for user, person in zip(users, crowd, strict=True)
            if expected_member(person, rules)
        }
        assert by_sql == by_python == expected
        transaction.set_rollback(True)

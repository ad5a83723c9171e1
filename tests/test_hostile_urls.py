"""Every URL of the backoffice, with every GET parameter its view reads and every POST
field it accepts, gets hostile values: Unicode digits, superscripts, huge integers, NUL,
100 kB strings. The answer is a page, a redirect, 400, 403, 404 or 405: never a 5xx.

ROUTES must name every URL pattern; a new URL without an entry fails the first test.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.forms import PasswordChangeForm, PersonForm, SystemUserForm
from accounts.models import Person
from tests.helpers import login_with_code

# The forms' own fields, so that a field added to a form cannot escape the hostile values.
PERSON_FIELDS = tuple(PersonForm.base_fields)
SYSTEM_USER_FIELDS = tuple(SystemUserForm.base_fields)
PASSWORD_CHANGE_FIELDS = tuple(PasswordChangeForm.base_fields)
PASSWORD_LINK_FIELDS = ("new_password1", "new_password2", "code")
# name: (path arguments, GET parameters, POST fields)
ROUTES = {
    "healthz": ((), (), ()),
    "set_language": ((), ("next",), ("language", "next")),
    "accounts:home": ((), (), ()),
    "accounts:login": ((), ("next",), ("username", "password", "code", "next")),
    "accounts:logout": ((), (), ()),
    "accounts:person_list": ((), ("q", "page"), ()),
    "accounts:person_create": ((), (), PERSON_FIELDS),
    "accounts:person_detail": (("person",), ("tab", "page"), ()),
    "accounts:person_update": (("person",), (), PERSON_FIELDS),
    "accounts:person_delete": (("person",), (), ()),
    "accounts:system_user_edit": (("person",), (), SYSTEM_USER_FIELDS),
    "accounts:password_change": ((), (), PASSWORD_CHANGE_FIELDS),
    "accounts:password_forgot": ((), (), ("name",)),
    # a real link and forged ones; the page a real link opens: tests/accounts/test_passwords.py
    "accounts:password_link": (("kind", "uidb64", "token"), (), PASSWORD_LINK_FIELDS),
    "mfa:enrol": ((), ("renewed",), ("code",)),
    "mfa:step_up": ((), (), ("password", "code")),
    "mfa:device_remove": ((), (), ("device",)),
    "mfa:device_rename": (("device",), (), ("name",)),
    "mfa:recovery_make": ((), (), ()),
    "mfa:passkey_options": ((), (), ()),
    "mfa:passkey_add": ((), (), ("name", "credential")),
    "mfa:passkey_rename": (("device",), (), ("name",)),
    "mfa:passkey_remove": ((), (), ("passkey",)),
    "mfa:passkey_login_options": ((), (), ()),
    "mfa:passkey_login": ((), (), ("credential", "next")),
    "mfa:passkeys_switch": ((), (), ("allowed",)),
    "mfa:recovery_download": ((), (), ("code",)),
    "mfa:sessions": ((), (), ()),
    "mfa:auditlog": ((), ("person", "action", "since", "until", "after", "export"), ()),
    "mfa:sessions_end_others": ((), (), ("password", "code")),
    "mfa:session_end": (("session",), (), ("password", "code")),
    "mfa:mark_forget": ((), (), ("mark",)),
    "mfa:admin_sessions_end": (("person",), (), ()),
    "mfa:admin_link": (("person",), ("renewed",), ("code", "expires_at")),
    "mfa:admin_unlink": (("person",), (), ()),
    "mfa:lock_clear": (("person",), (), ()),
    "mfa:settings": ((), (), ()),
    "mfa:issuer": ((), (), ("issuer",)),
    "mfa:location_add": ((), (), ("new-name", "new-network")),
    "mfa:location_change": (("location",), (), ("location-1-name", "location-1-network")),
    "mfa:location_remove": (("location",), (), ()),
    "mfa:go_live": ((), (), ("action", "at")),
    "mfa:reminders": ((), ("include_hidden",), ("include_hidden",)),
    "mfa:banner_hide": ((), (), ("next",)),
    "reports:index": ((), (), ()),
    "reports:report": (("slug",), ("show", "q", "sort", "dir", "page"), ()),
    "reports:export": (("slug", "export"), ("show", "q", "sort", "dir", "page"), ()),
}
# Django's own admin: its forms are Django's; our rules there are in test_admin_site.py.
NOT_WALKED = {"admin"}

ODD = [
    "",
    "\x00",
    "a\x00b",
    "¹²³",
    "١٢٣",
    "٣",
    "𝟙𝟚𝟛",
    "Ⅻ",
    "-1",
    "0",
    "1e9999",
    "NaN",
    "9" * 30,
    "9" * 5000,
    "x" * 100_000,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "=1+2",
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "2027-13-45T25:61",
    "0.0.0.0/0",
    "::/0",
    "on",
    "undo",
    "go_live",
    "en",
]
hostile = st.one_of(
    st.sampled_from(ODD),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=40),
    st.integers(-(10**40), 10**40).map(str),
)
path_part = st.one_of(st.sampled_from(["real", "0", "9" * 19, "9" * 30, "9" * 5000]))


def names(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in NOT_WALKED:
                continue
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            yield from names(pattern.url_patterns, namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield prefix + pattern.name


def test_every_url_is_walked():
    assert set(names(get_resolver().url_patterns)) == set(ROUTES)


def url_for(name, args, world, drawn):
    values = []
    for arg, choice in zip(args, drawn, strict=False):
        if arg in ("slug", "export"):
            values.append(world[arg] if choice == "real" else "x")
        else:
            values.append(str(world[arg]) if choice == "real" else choice)
    return reverse(name, args=values)


@pytest.mark.parametrize("name", sorted(ROUTES))
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_input_never_causes_a_server_error(client, admin_user, world, name, data):
    args, get_params, post_fields = ROUTES[name]
    drawn = [data.draw(path_part) for _ in args]
    url = url_for(name, args, world, drawn)
    login_with_code(client, admin_user)
    query = {param: data.draw(hostile) for param in get_params}
    response = client.get(url, query)
    if response.streaming:
        b"".join(response.streaming_content)
    assert response.status_code < 500, (url, query)
    form = {field: data.draw(hostile) for field in post_fields}
    response = client.post(url, form)
    assert response.status_code < 500, (url, form)
    assert Person.objects.filter(pk=world["person"]).exists() or name == "accounts:person_delete"

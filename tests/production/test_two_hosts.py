"""Two app hosts behind Debian's nginx (the scale-out shape of docs/deployment.md): each
host runs gunicorn in a network namespace of its own; both share PostgreSQL and Redis.
What must hold across hosts: one use per code, one lock per account, X-Forwarded-*
believed from nginx only, and each host's /healthz telling about its own connections.

The tests run in file order: cutting a host's connections comes last.
"""

import re
import time
import urllib.parse

from mfa import totp
from tests.helpers import at_once
from tests.production.conftest import PASSWORD, Client, stretch_the_lock

OFFICE = "127.0.0.2"  # the trusted location of this shape: 127.0.0.2/32


def current_code(secret):
    return totp.code_at_step(secret, totp.step_at(time.time()))


def upstream(headers):
    """The host (its address) that nginx passed a request to."""
    return headers["X-Upstream"].rsplit(":", 1)[0]


def test_twenty_clients_with_the_same_code_on_two_hosts_let_exactly_one_in(two_hosts):
    port, code = two_hosts["port"], current_code(two_hosts["secret"])
    clients = [Client(port) for _ in range(20)]
    tokens = [client.login_form() for client in clients]
    results = at_once(
        lambda index: clients[index].post_login(tokens[index], "race", PASSWORD, code), 20
    )
    statuses = [status for status, _headers, _body in results]
    assert statuses.count(302) == 1, statuses
    assert statuses.count(200) == 19
    # both hosts took part in the race
    assert {upstream(headers) for _s, headers, _b in results} == {
        host.inside for host in two_hosts["hosts"]
    }
    assert two_hosts["query"](
        "SELECT count(*) FROM mfa_auditevent WHERE subject_name = 'race' AND action = 'login_code'"
    ) == [(1,)]


def test_failures_on_both_hosts_add_up_to_one_lock_that_both_hosts_keep(two_hosts):
    port, secret = two_hosts["port"], two_hosts["secret"]
    served = set()
    for attempt in range(5):
        path = f"/hosts/{'ab'[attempt % 2]}/login/"
        client = Client(port)
        status, headers, body = client.post_login(
            client.login_form(path), "throttled", "wrong", path=path
        )
        # the failure that locks says so
        expected = "Te veel mislukte pogingen" if attempt == 4 else "Inloggen mislukt"
        assert status == 200 and expected in body
        served.add(upstream(headers))
    assert len(served) == 2
    rows = two_hosts["query"](
        "SELECT failures, locked_until IS NOT NULL FROM mfa_loginthrottle WHERE key = 'throttled'"
    )
    assert rows == [(5, True)]
    stretch_the_lock(two_hosts["query"], "throttled")
    for letter in "ab":  # the right password and code: refused by either host
        path = f"/hosts/{letter}/login/"
        client = Client(port)
        status, _h, body = client.post_login(
            client.login_form(path), "throttled", PASSWORD, current_code(secret), path=path
        )
        assert status == 200 and "Te veel mislukte pogingen" in body


def test_the_office_is_known_from_nginx_and_from_nginx_only(two_hosts):
    port, hosts, query = two_hosts["port"], two_hosts["hosts"], two_hosts["query"]
    # through nginx, from the office: no code asked, on either host
    for letter in "ab":
        path = f"/hosts/{letter}/login/"
        client = Client(port, peer=OFFICE)
        status, headers, _b = client.post_login(
            client.login_form(path), "office", PASSWORD, path=path
        )
        assert status == 302 and headers["Location"] == "/"
    # through nginx from elsewhere, claiming the office: nginx overwrites the claim
    liar = Client(port, peer="127.0.0.3", forwarded_for=OFFICE)
    status, _h, body = liar.login("office", PASSWORD)
    assert status == 200 and "Inloggen mislukt" in body
    # straight to a host, from nginx's own address: its headers are believed
    host = hosts[0]
    as_nginx = Client(8000, address=host.inside, peer=host.outside, forwarded_for=OFFICE)
    status, headers, _b = as_nginx.login("office", PASSWORD)
    assert status == 302 and headers["Location"] == "/"
    # the same request from the address next to nginx's: neither the claimed client address
    # nor the claimed https is believed (plain http is sent on to https, nobody logs in)
    logins = query("SELECT login_count FROM accounts_user WHERE username = 'office'")
    stranger = Client(8000, address=host.inside, peer=host.stranger, forwarded_for=OFFICE)
    status, headers, _b = stranger.request("GET", "/login/")
    assert status == 301 and headers["Location"].startswith("https://")
    status, _h, _b = stranger.post_login("forged", "office", PASSWORD)
    assert status == 301
    assert "sessionid" not in stranger.cookies
    assert query("SELECT login_count FROM accounts_user WHERE username = 'office'") == logins


def _post(client, path, fields):
    origin = f"https://127.0.0.1:{client.port}"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Origin": origin,
        "Referer": origin + path,
    }
    return client.request("POST", path, body=urllib.parse.urlencode(fields), headers=headers)


def test_a_session_ended_on_one_host_is_refused_on_the_other(two_hosts):
    """Sessions live in Redis with PostgreSQL behind: ending one on host a deletes both
    copies, so host b, which had it cached, refuses it at its next request."""
    port, secret = two_hosts["port"], two_hosts["secret"]
    laptop, phone = Client(port, peer=OFFICE), Client(port, peer=OFFICE)
    for client, letter in ((laptop, "a"), (phone, "b")):
        path = f"/hosts/{letter}/login/"
        status, _h, _b = client.post_login(client.login_form(path), "office", PASSWORD, path=path)
        assert status == 302
    for letter in "ab":  # the phone's session is read, and cached, on both hosts
        assert phone.get(f"/hosts/{letter}/")[0] == 200
    status, _h, page = laptop.get("/hosts/a/mfa/sessions/")
    assert status == 200
    # the laptop's own row has no button; the phone's, the latest, comes first (the office
    # test left older sessions of this person)
    ends = re.findall(r'href="/mfa/sessions/(\d+)/end/"', page)
    assert ends
    path = f"/hosts/a/mfa/sessions/{ends[0]}/end/"
    status, _h, form = laptop.get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert status == 200 and token is not None
    fields = {"csrfmiddlewaretoken": token.group(1), "password": PASSWORD}
    status, headers, _b = _post(laptop, path, {**fields, "code": current_code(secret)})
    assert status == 302 and headers["Location"] == "/mfa/sessions/"
    status, headers, _b = phone.get("/hosts/b/")
    assert status == 302 and headers["Location"].startswith("/login/")
    assert laptop.get("/hosts/b/")[0] == 200


def test_each_host_reports_its_own_database_and_redis(two_hosts):
    port, relays = two_hosts["port"], two_hosts["relays"]
    b = two_hosts["hosts"][1].name
    for service in ("pg", "redis"):
        relays[(b, service)].cut()
        try:
            assert Client(port).get("/hosts/b/healthz")[0] == 503, service
            assert Client(port).get("/hosts/a/healthz")[0] == 200, service
        finally:
            relays[(b, service)].restore()
        deadline = time.monotonic() + 10  # reconnects on its next request
        while Client(port).get("/hosts/b/healthz")[0] != 200:
            assert time.monotonic() < deadline, f"host b did not recover from losing {service}"
            time.sleep(0.2)

"""gunicorn x4 on PostgreSQL and Redis: what must hold across workers and outages.

The tests run in file order: the outages (Redis, then PostgreSQL) come last.
"""

import time
from datetime import timedelta

from mfa import totp
from tests.helpers import at_once
from tests.production.conftest import PASSWORD, Client, stretch_the_lock

HOME_IP = "198.51.100.7"


def current_code(secret, steps=0):
    return totp.code_at_step(secret, totp.step_at(time.time()) + steps)


def test_twenty_clients_with_the_same_code_let_exactly_one_in(production):
    port, code = production["port"], current_code(production["secret"])
    clients = [Client(port, client_ip=f"198.51.100.{10 + i}") for i in range(20)]
    tokens = [client.login_form() for client in clients]
    results = at_once(
        lambda index: clients[index].post_login(tokens[index], "race", PASSWORD, code), 20
    )
    statuses = [status for status, _headers, _body in results]
    assert statuses.count(302) == 1, statuses
    assert statuses.count(200) == 19
    events = dict(
        production["query"](
            "SELECT action, count(*) FROM mfa_auditevent WHERE subject_name = 'race' "
            "AND action IN ('login_code', 'code_replayed') GROUP BY action"
        )
    )
    # one login; the losers are replays until the throttle locks the account
    assert events["login_code"] == 1
    assert events["code_replayed"] >= 5


def test_failures_over_workers_and_client_ips_add_up_to_one_throttle(production):
    port, secret = production["port"], production["secret"]
    for i in range(5):
        status, _h, body = Client(port, client_ip=f"192.0.2.{i + 1}").login("throttled", "wrong")
        # the failure that locks says so
        assert (
            status == 200
            and ("Te veel mislukte pogingen" if i == 4 else "Inloggen mislukt") in body
        )
    rows = production["query"](
        "SELECT failures, locked_until IS NOT NULL FROM mfa_loginthrottle WHERE key = 'throttled'"
    )
    assert rows == [(5, True)]
    stretch_the_lock(production["query"], "throttled")
    # inside the wait even the right password and code are refused, from anywhere
    status, _h, body = Client(port, client_ip="192.0.2.99").login(
        "throttled", PASSWORD, current_code(secret)
    )
    assert status == 200 and "Te veel mislukte pogingen" in body


def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(production):
    port = production["port"]
    # 127.0.0.2 is not a trusted proxy: neither its X-Forwarded-For (the office) nor its
    # X-Forwarded-Proto is believed, so its plain HTTP is sent on to HTTPS and nobody logs in
    forged = Client(port, peer="127.0.0.2", forwarded_for="203.0.113.5")
    status, headers, _body = forged.request("GET", "/login/")
    assert status == 301 and headers["Location"].startswith("https://")
    status, _h, _body = forged.post_login("forged", "proxied", PASSWORD)
    assert status == 301 and "sessionid" not in forged.cookies
    # the real proxy at 127.0.0.1 says the client is in the office: no code needed
    status, headers, _body = Client(port, client_ip="203.0.113.5").login("proxied", PASSWORD)
    assert status == 302 and headers["Location"] == "/"


def test_sixteen_parallel_wrong_attempts_over_four_workers_evaluate_at_most_five(production):
    port = production["port"]
    clients = [Client(port, client_ip=f"198.51.100.{100 + i}") for i in range(16)]
    tokens = [client.login_form() for client in clients]
    at_once(
        lambda index: clients[index].post_login(tokens[index], "lockrace", "wrong-password"), 16
    )
    # Five are evaluated, then the lock holds. A busy machine may hand a late request to a
    # worker after the first wait (1 s) is over, as the throttle allows: then it is the
    # sixth, evaluated alone, and locks for 2 s, and so on. So: the locks count up from the
    # fifth failure one at a time, each next evaluation came after the previous wait (its
    # moment is the one the reservation was checked against), and every evaluated attempt
    # is one of them. Check-then-act would evaluate all sixteen inside the first second.
    query = production["query"]
    evaluated = query(
        "SELECT count(*) FROM mfa_auditevent WHERE subject_name = 'lockrace' "
        "AND action = 'login_failed'"
    )[0][0]
    locks = query(
        "SELECT at, data FROM mfa_auditevent WHERE subject_name = 'lockrace' "
        "AND action = 'locked' ORDER BY (data->>'failures')::int"
    )
    assert [data["failures"] for _at, data in locks] == list(range(5, evaluated + 1))
    for (at, data), (next_at, _next) in zip(locks, locks[1:], strict=False):
        assert next_at >= at + timedelta(seconds=data["wait"])


def test_a_compatible_spelling_shares_the_lock_and_a_lookalike_is_no_account(production):
    port, secret = production["port"], production["secret"]
    for _ in range(5):  # long s (U+017F) is s: the same name, the same counter
        Client(port).login("\u017finterklaa\u017f", "wrong-password")
    stretch_the_lock(production["query"], "sinterklaas")
    status, _h, body = Client(port).login("sinterklaas", PASSWORD, current_code(secret))
    assert status == 200 and "Te veel mislukte pogingen" in body
    # dotless i (U+0131) is another letter: no account, whatever the password
    status, _h, body = Client(port).login("s\u0131nterklaas", PASSWORD, current_code(secret))
    assert status == 200 and "Inloggen mislukt" in body
    rows = production["query"](
        "SELECT key, failures FROM mfa_loginthrottle WHERE key IN (%s, %s)",
        "sinterklaas",
        "s\u0131nterklaas",
    )
    assert dict(rows) == {"sinterklaas": 5, "s\u0131nterklaas": 1}


def test_every_cookie_the_app_sets_is_secure_httponly_and_samesite(production):
    port = production["port"]
    client = Client(port, client_ip="203.0.113.5")  # the office: no code asked
    status, _h, _b = client.login("proxied", PASSWORD)
    assert status == 302
    token = client.cookies["csrftoken"]
    origin = f"https://127.0.0.1:{port}"
    client.request(
        "POST",
        "/i18n/setlang/",
        body=f"csrfmiddlewaretoken={token}&language=en&next=/",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": origin,
            "Referer": origin + "/",
        },
    )
    names = {cookie.split("=", 1)[0] for cookie in client.set_cookie_headers}
    assert {"csrftoken", "sessionid", "django_language"} <= names, names
    for cookie in client.set_cookie_headers:
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite"} <= flags, cookie


def test_production_responses_carry_the_security_headers(production):
    status, headers, _body = Client(production["port"]).get("/login/")
    assert status == 200
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "no-store" in headers["Cache-Control"]
    assert all("Secure" in value for name, value in headers.items() if name == "Set-Cookie")


def test_redis_stopping_mid_run_degrades_to_the_database(production):
    port, secret = production["port"], production["secret"]
    client = Client(port, client_ip=HOME_IP)
    status, _h, _b = client.login("redis", PASSWORD, current_code(secret))
    assert status == 302
    production["redis"].terminate()
    production["redis"].wait(10)
    assert Client(port).get("/healthz")[0] == 503
    status, _h, body = client.get("/")  # the open session lives on in the database
    assert status == 200 and "Redis Productie" in body
    other = Client(port, client_ip=HOME_IP)
    status, _h, _b = other.login("redis", PASSWORD, current_code(secret, 1))
    assert status == 302  # and new logins keep working
    assert other.get("/")[0] == 200


def test_postgresql_unreachable_during_a_login_is_a_clean_503(production):
    port, secret, forwarder, query = (
        production["port"],
        production["secret"],
        production["forwarder"],
        production["query"],
    )
    before = query("SELECT count(*) FROM mfa_auditevent WHERE subject_name = 'pgdown'")
    client = Client(port, client_ip=HOME_IP)
    token = client.login_form()
    forwarder.cut()
    try:
        status, headers, body = client.post_login(token, "pgdown", PASSWORD, current_code(secret))
    finally:
        forwarder.restore()
    assert status == 503
    assert "Even niet beschikbaar" in body
    for leak in ("Traceback", "OperationalError", "psycopg", "postgres"):
        assert leak not in body
    assert query("SELECT count(*) FROM mfa_auditevent WHERE subject_name = 'pgdown'") == before
    assert query("SELECT login_count FROM accounts_user WHERE username = 'pgdown'") == [(0,)]
    # back up: the same person logs in
    status, _h, _b = Client(port, client_ip=HOME_IP).login("pgdown", PASSWORD, current_code(secret))
    assert status == 302

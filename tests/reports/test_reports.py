"""Rechtenstructuur reports (manual 3.1): columns, formats, filters, sorting, exports, scale."""

import base64
import csv
import functools
import io
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.hashers import make_password
from django.urls import reverse
from django.utils import timezone

from accounts.models import Person, User
from audit.models import AuditEvent
from audit.services import audit
from mfa import crypto, totp
from mfa.models import Device, LoginThrottle, MfaSettings
from tests.helpers import PASSWORD, first_sheet, link

AMS = ZoneInfo("Europe/Amsterdam")
PERSONS = reverse("reports:report", args=["personen-met-mfa"])
STATS = reverse("reports:report", args=["systeemgebruikers-en-inlog-stats"])
MANUAL_HEADERS = ["Informele_naam", "Sorteer_naam", "MFA_aangemaakt", "MFA_gewijzigd"]


def local(*args):
    return datetime(*args).replace(tzinfo=AMS)


@pytest.fixture
def manual_five(db):
    """The manual's example: Pieter, Rob and Astrid linked at the manual's moments."""
    users = {}
    for username, first, infix, last in [
        ("pwillemsen", "Pieter", "", "Willemsen"),
        ("jjacobs", "John", "", "Jacobs"),
        ("rdewit", "Rob", "de", "Wit"),
        ("rdevries", "Ricardo", "de", "Vries"),
        ("adejong", "Astrid", "de", "Jong"),
    ]:
        person = Person.objects.create(first_name=first, infix=infix, last_name=last)
        users[username] = User.objects.create_user(username, PASSWORD, person=person)
    link(users["pwillemsen"], local(2017, 5, 22, 13, 59))
    link(users["pwillemsen"], local(2017, 5, 24, 16, 54))
    link(users["rdewit"], local(2017, 5, 29, 9, 40))
    link(users["adejong"], local(2017, 5, 30, 11, 51))
    return users


def table(response):
    """{Informele_naam: {header: cell}} from the rendered report."""
    headers = [column.header for column in response.context["report"].columns]
    return {
        cells[0]: dict(zip(headers, cells, strict=True))
        for _user, cells in response.context["rows"]
    }


def test_rechtenstructuur_lists_the_two_reports(admin_client):
    html = admin_client.get(reverse("reports:index")).content.decode()
    for text in (
        "Rapport",
        "Beschrijving definitie",
        "Personen met MFA",
        "Overzicht van personen die MFA geconfigureerd hebben.",
        "Systeemgebruikers en inlog stats",
        "Overzicht van systeemgebruikers en inlog statistieken",
    ):
        assert text in html, text
    assert "Selecties" in html and "Rechtenstructuur" in html


def test_reports_need_the_permission_and_show_no_menu_without_it(user_client):
    assert "Selecties" not in user_client.get("/").content.decode()
    for url in (
        reverse("reports:index"),
        PERSONS,
        STATS,
        reverse("reports:export", args=["personen-met-mfa", "csv"]),
    ):
        assert user_client.get(url).status_code == 403


def test_personen_met_mfa_gives_the_manuals_picture(admin_client, manual_five):
    response = admin_client.get(PERSONS)
    assert [c.header for c in response.context["report"].columns][:4] == MANUAL_HEADERS
    rows = table(response)
    picture = {
        name: [rows[name][h] for h in MANUAL_HEADERS[2:]]
        for name in (
            "Pieter Willemsen",
            "John Jacobs",
            "Rob de Wit",
            "Ricardo de Vries",
            "Astrid de Jong",
        )
    }
    assert picture == {
        "Pieter Willemsen": ["22-5-2017 13:59", "24-5-2017 16:54"],
        "John Jacobs": ["", ""],
        "Rob de Wit": ["29-5-2017 09:40", ""],
        "Ricardo de Vries": ["", ""],
        "Astrid de Jong": ["30-5-2017 11:51", ""],
    }
    assert rows["Rob de Wit"]["Sorteer_naam"] == "Wit, Rob de"
    assert rows["Pieter Willemsen"]["Aantal_apparaten"] == "2"


def test_rollout_progress_and_go_live_state(admin_client, manual_five):
    html = admin_client.get(PERSONS).content.decode()
    assert "3 van 6 systeemgebruikers gekoppeld (50%)" in html  # the beheerder has none
    assert "MFA is nog niet live." in html
    MfaSettings.objects.update_or_create(pk=1, defaults={"go_live_at": local(2017, 6, 1, 9, 0)})
    assert "MFA is live sinds 1-6-2017 09:00." in admin_client.get(PERSONS).content.decode()


def test_filters(admin_client, admin_user, manual_five):
    link(manual_five["jjacobs"], timezone.now(), by=admin_user)
    names = lambda show: set(table(admin_client.get(PERSONS, {"show": show})))  # noqa: E731
    assert names("linked") == {"Pieter Willemsen", "Rob de Wit", "Astrid de Jong", "John Jacobs"}
    assert names("unlinked") == {"Ricardo de Vries", "Sabrina Boetzkes"}
    assert names("via_admin") == {"John Jacobs"}
    assert len(names("all")) == 6
    row = table(admin_client.get(PERSONS, {"show": "via_admin"}))["John Jacobs"]
    assert row["Via_beheerder"] == "Ja" and row["Tijdelijk_tot"] == ""


def test_search_on_name(admin_client, manual_five):
    assert set(table(admin_client.get(PERSONS, {"q": "de"}))) >= {
        "Rob de Wit",
        "Ricardo de Vries",
        "Astrid de Jong",
    }
    assert set(table(admin_client.get(PERSONS, {"q": "rob wit"}))) == {"Rob de Wit"}


def sorted_by(keys, descending):
    """`keys` (lists of sort values) in the reports' order: every key in the direction
    asked, an empty value last either way."""

    def compare(a, b):
        for x, y in zip(a, b, strict=True):
            if x == y:
                continue
            if x is None or y is None:
                return 1 if x is None else -1
            return (1 if x > y else -1) * (-1 if descending else 1)
        return 0

    return sorted(keys, key=functools.cmp_to_key(compare))


@pytest.mark.parametrize("url", [PERSONS, STATS])
def test_every_column_sorts_both_ways(admin_client, manual_five, url):
    columns = admin_client.get(url).context["report"].columns
    for column in columns:
        orders = {}
        for direction in ("asc", "desc"):
            response = admin_client.get(url, {"sort": column.header, "dir": direction})
            assert response.status_code == 200 and len(response.context["rows"]) == 6
            keys = [
                [row[key] for key in (*column.order_by, "id")]
                for row, _cells in response.context["rows"]
            ]
            assert keys == sorted_by(keys, direction == "desc"), (column.header, direction)
            orders[direction] = [key[-1] for key in keys]
        assert orders["asc"] != orders["desc"], column.header  # the direction is applied


def test_sort_orders_rows(admin_client, manual_five):
    rows = lambda **p: [cells[0] for _u, cells in admin_client.get(PERSONS, p).context["rows"]]  # noqa: E731
    assert rows(sort="Sorteer_naam")[:3] == ["Sabrina Boetzkes", "John Jacobs", "Astrid de Jong"]
    assert rows(sort="MFA_aangemaakt", dir="desc")[:3] == [
        "Astrid de Jong",
        "Rob de Wit",
        "Pieter Willemsen",
    ]
    assert rows(sort="Informele_naam")[0] == "Astrid de Jong"


def test_bad_parameters_fall_back_to_defaults(admin_client, manual_five):
    for params in (
        {"sort": "password"},
        {"dir": "sideways"},
        {"show": "everyone"},
        {"page": "x"},
        {"q": "x" * 500},
    ):
        assert admin_client.get(PERSONS, params).status_code == 200
    assert admin_client.get(reverse("reports:report", args=["unknown"])).status_code == 404
    assert (
        admin_client.get(reverse("reports:export", args=["personen-met-mfa", "pdf"])).status_code
        == 404
    )


def test_hidden_system_users_are_included_with_a_marker(admin_client, manual_five):
    User.objects.filter(username="jjacobs").update(is_hidden=True)
    response = admin_client.get(PERSONS)
    assert table(response)["John Jacobs"]["Verbergen_als_systeemgebruiker"] == "Ja"
    assert "verborgen" in response.content.decode()


def test_csv_export_streams_the_current_filter_for_dutch_excel(admin_client, manual_five):
    response = admin_client.get(
        reverse("reports:export", args=["personen-met-mfa", "csv"]), {"show": "linked"}
    )
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:]), delimiter=";"))
    assert rows[0][:4] == MANUAL_HEADERS
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) == {"Pieter Willemsen", "Rob de Wit", "Astrid de Jong"}
    assert by_name["Pieter Willemsen"][2:4] == ["22-5-2017 13:59", "24-5-2017 16:54"]
    html = table(admin_client.get(PERSONS, {"show": "linked"}))
    assert all(list(html[name].values()) == row for name, row in by_name.items())


def test_xlsx_export_has_the_same_rows_with_real_dates(admin_client, manual_five):
    response = admin_client.get(reverse("reports:export", args=["personen-met-mfa", "xlsx"]))
    assert response.streaming
    rows = list(first_sheet(b"".join(response.streaming_content)).iter_rows(values_only=True))
    assert list(rows[0][:4]) == MANUAL_HEADERS
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["Pieter Willemsen"][2] == datetime(2017, 5, 22, 13, 59)
    assert by_name["Pieter Willemsen"][3] == datetime(2017, 5, 24, 16, 54)
    assert by_name["John Jacobs"][2] is None
    assert len(rows) == 7


def test_login_stats_report(admin_client, manual_five):
    now = timezone.now()
    rob = manual_five["rdewit"]
    User.objects.filter(pk=rob.pk).update(login_count=2395)
    for days in (1, 10, 40):
        audit(action=AuditEvent.Action.CODE_FAILED, subject=rob, at=now - timedelta(days=days))
    LoginThrottle.objects.create(key="rdewit", failures=5, locked_until=now + timedelta(minutes=5))
    row = table(admin_client.get(STATS))["Rob de Wit"]
    assert row["Gebruikersnaam"] == "rdewit"
    assert row["Aantal_inlogmomenten"] == "2395"
    assert row["MFA_gekoppeld"] == "Ja"
    assert row["Mislukte_pogingen_30_dagen"] == "2"
    assert row["Nu_geblokkeerd"] == "Ja"
    assert row["Inloggen_als_systeemgebruiker"] == "Ja"
    csv_body = b"".join(
        admin_client.get(
            reverse("reports:export", args=["systeemgebruikers-en-inlog-stats", "csv"])
        ).streaming_content
    ).decode()
    assert "Mislukte_pogingen_30_dagen" in csv_body.splitlines()[0]


def _system_users(count):
    password = make_password("x")
    persons = Person.objects.bulk_create(
        Person(first_name=f"P{i}", last_name=f"L{i:05}") for i in range(count)
    )
    users = User.objects.bulk_create(
        User(username=f"u{i:05}", person=person, password=password)
        for i, person in enumerate(persons)
    )
    Device.objects.bulk_create(
        Device(user=user, slot=1, name="Apparaat 1", secret_encrypted="x") for user in users[::2]
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(action=AuditEvent.Action.CODE_FAILED, subject=user, subject_name=user.username)
        for user in users[::3]
    )


@pytest.mark.parametrize("count", [10, 2000])
@pytest.mark.parametrize("url", [PERSONS, STATS])
def test_the_page_issues_a_constant_number_of_queries(
    admin_client, django_assert_max_num_queries, count, url
):
    _system_users(count)
    MfaSettings.load()  # the settings row exists in every installation (migration 0002)
    admin_client.get(url)  # counts the rollout figure, which the cache then keeps
    # session, user, settings, permissions..., then the page: its sort keys, its rows, the
    # count of matching rows (up to 1,001) and the rollout figure from the cache
    with django_assert_max_num_queries(11):
        response = admin_client.get(url, {"sort": "MFA_gewijzigd"})
    assert len(response.context["rows"]) == min(count + 1, 50)
    assert response.context["matching"] == min(count + 1, 1001)
    assert (response.context["more_than"] is not None) == (count + 1 > 1000)


# --- Keyset pages -------------------------------------------------------------


def _walk(client, url, params, direction="next", counts=None):
    """Follow the Next (or, from the last page, the Previous) links: the rows seen (and in
    `counts`, the number of matching rows each page announced)."""
    names: list[str] = []
    params = dict(params)
    if direction == "previous":
        params["last"] = "1"
    for _ in range(100):
        response = client.get(url, params)
        rows = [row["id"] for row, _cells in response.context["rows"]]
        if counts is not None:
            counts.append(response.context["matching"])
        names = rows + names if direction == "previous" else names + rows
        cursor = response.context[direction]
        if cursor is None:
            return names
        params = {k: v for k, v in params.items() if k not in ("after", "before", "last")}
        params["after" if direction == "next" else "before"] = cursor
    raise AssertionError("no end")


@pytest.mark.parametrize(
    "sort", ["Sorteer_naam", "MFA_gewijzigd", "Aantal_apparaten", "Tijdelijk_tot"]
)
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_keyset_pages_cover_every_row_once_in_both_directions(
    admin_client, admin_user, sort, direction, monkeypatch
):
    from reports import views

    monkeypatch.setattr(views, "PAGE_SIZE", 7)
    _system_users(40)
    Device.objects.all().delete()  # their stand-in secrets cannot be read
    some = list(User.objects.exclude(pk=admin_user.pk)[:12])
    for number, user in enumerate(some):  # ties and NULLs in the sorted column
        link(user, timezone.now() - timedelta(days=number % 3), by=admin_user)
        User.objects.filter(pk=user.pk).update(
            mfa_changed_at=timezone.now() if number % 2 else None
        )
    Device.objects.filter(user__in=some[:4]).update(expires_at=timezone.now() + timedelta(days=3))
    params = {"sort": sort, "dir": direction}
    everything = [row["id"] for row, _c in admin_client.get(PERSONS, params).context["rows"]]
    forward = _walk(admin_client, PERSONS, params)
    backward = _walk(admin_client, PERSONS, params, direction="previous")
    assert len(forward) == User.objects.count() == len(set(forward))
    assert forward == backward
    assert forward[:7] == everything[:7]


@pytest.mark.parametrize(
    "params",
    [{}, {"q": "L000"}, {"show": "linked"}, {"show": "unlinked", "q": "P"}, {"q": "nobody"}],
)
def test_every_page_announces_the_rows_of_every_page(admin_client, monkeypatch, params):
    """With a filter or a search a page counts the matching rows in its own pass; a later
    page, and the last one read backwards, must still count the rows of all pages."""
    from reports import views

    monkeypatch.setattr(views, "PAGE_SIZE", 7)
    _system_users(40)
    for direction in ("next", "previous"):
        counts: list[int] = []
        walked = _walk(admin_client, PERSONS, {**params, "sort": "Sorteer_naam"}, direction, counts)
        assert set(counts) == {len(walked)}, (direction, counts)
        if params != {"q": "nobody"}:
            assert len(counts) > 1  # more than one page was read


def test_a_cursor_that_is_not_ours_shows_the_first_page(admin_client, manual_five):
    first = [row["id"] for row, _c in admin_client.get(PERSONS).context["rows"]]
    for junk in (
        "x",
        "W10",
        "WyJhIiwgMV0",
        "eyJhIjogMX0",
        "!!!",
        "W251bGwsIG51bGwsIG51bGwsIG51bGxd",
    ):
        response = admin_client.get(PERSONS, {"after": junk})
        assert response.status_code == 200
        assert [row["id"] for row, _c in response.context["rows"]] == first


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_cursor_with_a_moment_beyond_the_calendar_in_utc_shows_the_first_page(
    admin_client, manual_five, moment
):
    """A hand-made page link whose date falls outside years 1-9999 once in UTC (as the
    database compares it) is not ours: the first page, never a server error (SQLite's
    adapter raised OverflowError; outside review)."""
    first = [
        row["id"]
        for row, _c in admin_client.get(PERSONS, {"sort": "Laatste_login"}).context["rows"]
    ]
    token = base64.urlsafe_b64encode(json.dumps([moment, 1]).encode()).decode().rstrip("=")
    response = admin_client.get(PERSONS, {"sort": "Laatste_login", "after": token})
    assert response.status_code == 200
    assert [row["id"] for row, _c in response.context["rows"]] == first


@pytest.mark.parametrize("text", ["a\u0000b", "\ud800"], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize("direction", ["after", "before"])
def test_a_cursor_with_text_no_database_holds_shows_the_first_page(
    admin_client, manual_five, text, direction
):
    """A hand-made page link whose name holds a NUL or a lone surrogate (JSON can carry
    both) is not ours: the first page, never a server error (PostgreSQL refused the NUL,
    psycopg could not encode the surrogate; outside review)."""
    first = [row["id"] for row, _c in admin_client.get(PERSONS).context["rows"]]
    token = base64.urlsafe_b64encode(json.dumps([text, "b", "", 1]).encode()).decode()
    response = admin_client.get(PERSONS, {direction: token.rstrip("=")})
    assert response.status_code == 200
    assert [row["id"] for row, _c in response.context["rows"]] == first


def test_a_page_shows_the_same_figures_as_the_export_of_every_row(admin_user, monkeypatch):
    """A page reads its rows with the aggregates narrowed to its own users: each figure
    must equal the one-pass query of the export, for users on and off the page."""
    from livits import clock
    from mfa.models import Passkey, RecoveryCode
    from reports import fields, keyset, selectors, streams
    from reports.reports import REPORTS

    monkeypatch.setattr(streams, "EXPORT_FIRST", 2)  # the rest in the export's one pass
    now = clock.now()
    MfaSettings.objects.update_or_create(pk=1, defaults={"passkeys_allowed": True})
    users = []
    for i in range(7):
        person = Person.objects.create(first_name=f"Figuur{i}", last_name=f"Rij{i}")
        users.append(User.objects.create(username=f"figuur{i}", person=person, password="!"))
    for i, user in enumerate(users):
        for _ in range(i % 3):  # 0, 1 or 2 devices
            link(user, now - timedelta(days=i + 1))
        AuditEvent.objects.bulk_create(
            AuditEvent(action=AuditEvent.Action.CODE_FAILED, subject=user, at=now)
            for _ in range(i % 4)
        )
        if i % 2:
            Passkey.objects.create(user=user, name="Sleutel", credential_id=f"c{i}", public_key=b"")
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, number=n, digest=f"{i}-{n}", created_at=now)
            for n in range(1, 1 + i % 5)
        )
    link(users[3], now, by=admin_user, expires_at=now + timedelta(days=2))
    LoginThrottle.objects.create(key=users[5].username_canonical, locked_until=now + timedelta(1))
    for report in REPORTS.values():
        order = keyset.Order(("last_name", "first_name", "infix", "id"), False)
        names = ("id", *report.fields)
        every = {
            values[0]: dict(zip(names, values, strict=True))
            for values in streams.every_row(now, fields=names, order=order)
        }
        shown, after = [], None
        while True:
            page = selectors.page(now, fields=report.fields, order=order, after=after, size=3)
            shown += page.rows
            if page.last:
                break
            after = page.boundary(page.rows[-1])
        assert len(shown) == len(every) == 8  # the seven and the beheerder
        for row in shown:
            assert row == every[row["id"]]
        figures = [key for key in report.fields if fields.FIELDS[key].join != "person"]
        assert len({tuple(row[key] for key in figures) for row in shown}) >= 5  # they differ


# --- The rollout figure at scale ---------------------------------------------


def test_the_rollout_figure_is_counted_once_and_again_after_a_change(
    admin_client, manual_five, django_assert_num_queries, django_capture_on_commit_callbacks
):
    assert admin_client.get(PERSONS).context["linked"] == 3
    jjacobs = manual_five["jjacobs"]
    secret = totp.new_secret()
    # a change made behind the factors' back: the cache keeps the figure ...
    Device.objects.create(user=jjacobs, slot=1, name="x", secret_encrypted=crypto.encrypt(secret))
    assert admin_client.get(PERSONS).context["linked"] == 3
    Device.objects.filter(user=jjacobs).delete()
    # ... a link through the factors forgets it when it commits
    with django_capture_on_commit_callbacks(execute=True):
        link(jjacobs, timezone.now())
    response = admin_client.get(PERSONS)
    assert (response.context["linked"], response.context["total"]) == (4, 6)
    assert "4 van 6 systeemgebruikers gekoppeld (67%)" in response.content.decode()


def test_a_change_not_committed_leaves_the_rollout_figure(admin_client, manual_five):
    from django.db import transaction

    admin_client.get(PERSONS)
    with transaction.atomic():  # a link that is never committed (a test's transaction)
        link(manual_five["jjacobs"], timezone.now())
    assert admin_client.get(PERSONS).context["linked"] == 3


def test_a_count_beyond_the_limit_says_more_than(admin_client, monkeypatch):
    from reports import views

    monkeypatch.setattr(views, "COUNT_LIMIT", 20)
    _system_users(40)
    html = admin_client.get(PERSONS, {"q": "L000"}).content.decode()
    assert "Meer dan 20 systeemgebruikers" in html
    response = admin_client.get(PERSONS, {"q": "L0001"})  # L00010..L00019
    assert response.context["matching"] == 10 and response.context["more_than"] is None
    assert "10 systeemgebruikers" in response.content.decode()


@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("search", ["Wi", "wit", "DE WIT", "rdew", "ob de", "x%", "o_", "T ", "ß"])
def test_a_search_finds_what_icontains_finds(admin_client, manual_five, monkeypatch, search, dense):
    """Short words and words the statistics expect often are checked on the rows, others
    found through the trigram indexes on PostgreSQL: either way a word matches a name
    part or the username, ignoring case, and % and _ are plain characters."""
    from django.db.models import Q

    from reports import search as searching

    monkeypatch.setattr(searching, "_dense", lambda pattern, stored: dense)

    expected = User.objects.all()
    for word in search.split():
        expected = expected.filter(
            Q(person__first_name__icontains=word)
            | Q(person__infix__icontains=word)
            | Q(person__last_name__icontains=word)
            | Q(username__icontains=word)
        )
    rows = admin_client.get(PERSONS, {"q": search}).context["rows"]
    assert {row["id"] for row, _cells in rows} == set(expected.values_list("pk", flat=True))


def test_the_search_indexes_hold_the_searched_texts(db):
    """The expressions that migration 0002 indexes are the ones the search compares."""
    import importlib

    from reports.search import SEARCH_TEXT

    migration = importlib.import_module("reports.migrations.0002_search_indexes")
    assert SEARCH_TEXT["name"] in migration.INDEXES["reports_person_name_trgm"]
    assert SEARCH_TEXT["username"] in migration.INDEXES["reports_user_username_trgm"]
    bigrams = importlib.import_module("reports.migrations.0004_bigram_indexes")
    for text, index in (("name", "person_name"), ("username", "user_username")):
        assert f"reports_bigrams({SEARCH_TEXT[text]})" in bigrams.INDEXES[f"reports_{index}_bigram"]


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("word", "kind"), [("wittebrood", "trgm"), ("wi", "bigram")], ids=["trigrams", "bigrams"]
)
def test_a_selective_search_uses_the_indexes_on_postgresql(db, monkeypatch, word, kind):
    """A word of three or more characters through the trigram indexes, one of two
    through the bigram indexes."""
    from django.db import connection

    from livits import clock
    from reports import search, selectors

    if connection.vendor != "postgresql":
        pytest.skip("the search indexes exist on PostgreSQL only")
    monkeypatch.setattr(search, "_dense", lambda pattern, stored: False)
    inner, params = selectors._query(clock.now(), ["id"], search=word)
    with connection.cursor() as cursor:
        # tiny tables: forbid the scans a planner prefers there, so an index is chosen when
        # the search's expressions match it (else only a sequential scan remains)
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_indexonlyscan = off")
        cursor.execute(f"EXPLAIN {inner}", params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert f"reports_person_name_{kind}" in plan, plan
    assert f"reports_user_username_{kind}" in plan, plan


def test_an_export_beyond_its_first_batch_has_every_row_once_in_order(admin_client, monkeypatch):
    """The first rows are read like a page, the rest in one pass after them: together every
    row once, in the order of the pages."""
    from reports import streams

    monkeypatch.setattr(streams, "EXPORT_FIRST", 7)
    _system_users(40)
    params = {"sort": "Sorteer_naam", "dir": "desc"}
    walked = _walk(admin_client, PERSONS, params)
    url = reverse("reports:export", args=["personen-met-mfa", "csv"])
    body = b"".join(admin_client.get(url, params).streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(body), delimiter=";"))[1:]
    names = {u.pk: u.person.informal_name for u in User.objects.select_related("person")}
    assert [line[0] for line in lines] == [names[pk] for pk in walked]
    assert len(walked) == User.objects.count() == 41


@pytest.mark.postgresql
def test_a_selective_search_counts_its_matches_in_the_pass_of_its_first_page(
    admin_client, monkeypatch
):
    """Its matches are gathered through the index before the page is sorted: the same
    pass counts them, and no second query does."""
    from django.db import connection

    from reports import search, selectors, views

    if connection.vendor != "postgresql":
        pytest.skip("the trigram indexes exist on PostgreSQL only")
    monkeypatch.setattr(search, "_dense", lambda pattern, stored: False)
    monkeypatch.setattr(views, "PAGE_SIZE", 7)
    _system_users(40)

    def count_again(*args, **kwargs):
        raise AssertionError("counted in a second query")

    monkeypatch.setattr(selectors, "_count", count_again)
    response = admin_client.get(PERSONS, {"q": "L0001"})  # L00010..L00019
    assert response.context["matching"] == 10 and len(response.context["rows"]) == 7
    assert "10 systeemgebruikers" in response.content.decode()


@pytest.mark.postgresql
def test_a_sort_on_the_informal_name_walks_an_index_on_postgresql(db):
    """Informele_naam (first name, infix, last name) is read along an index, not sorted."""
    from django.db import connection

    from livits import clock
    from reports import selectors
    from reports.keyset import Order

    if connection.vendor != "postgresql":
        pytest.skip("the index exists on PostgreSQL only")
    order = Order(("first_name", "infix", "last_name", "id"), False)
    inner, params = selectors._query(clock.now(), order.keys)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny tables: as on large ones
        cursor.execute(f"EXPLAIN SELECT * FROM ({inner}) r ORDER BY {order.sql()} LIMIT 51", params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "reports_person_informal_name" in plan, plan

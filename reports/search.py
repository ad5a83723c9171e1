"""The reports' search: every word in a name part or the username.

On PostgreSQL a page whose stored forms apply (reports.figures) searches the text
stored beside each user's figures (migration 0009), otherwise the persons' names and
the usernames (migrations 0002 and 0004 index both). A word of two or more characters
that the statistics expect in few rows finds them through an index first (a selective
search then reads what it shows): the trigram indexes (pg_trgm) for three or more
characters, the bigram indexes for two. A single character, or a word expected in many
rows, is checked on the rows as the page walks its order. SQLite checks every word on
the rows.
"""

import functools
import json
import math

from django.db import connection

from .fields import SQL

SEARCHED = ("accounts_person.first_name", "accounts_person.infix", "accounts_person.last_name")
# PostgreSQL: the normalised texts that migrations 0002 (pg_trgm) and 0004 (bigrams) index.
SEARCH_TEXT = {
    "name": "UPPER(first_name || ' ' || infix || ' ' || last_name)",
    "username": "UPPER(username)",
}
# ... and the one stored beside each user's figures, which migration 0009 keeps and
# indexes: the name text and the username in one text. A search word holds no white
# space, so it lies in the name or in the username wherever it lies in this text.
STORED_SEARCH = "figures.search"
BIGRAM = 2  # a word of two characters is found by its bigram, a longer one by trigrams
COUNT_LIMIT = 1000  # a page counts its rows up to here, beyond it says "more than 1,000"


# A match collected through an index and its row read costs this many times a row
# checked as the page walks its order: measured on bench/reports.py's data, PostgreSQL,
# at 100k persons 'bakker' (a tenth of the users) collected 17.6 ms, walked 15.0 ms; at
# a million 'demo12' (one in a hundred; the statistics say two) collected 16.1 ms,
# walked 30.7 ms. By the rule in _dense those ask for more than 5 and less than 12.
GATHERED = 8


@functools.lru_cache(maxsize=512)
def _dense(pattern: str, stored: bool) -> bool:
    """Whether PostgreSQL's statistics put `pattern` (a LIKE pattern) in so many of the
    searched rows (the stored search texts, or the persons' names) that checking it on
    the rows costs less: counting the first COUNT_LIMIT matches of a share s of n rows
    checks COUNT_LIMIT / s of them, collecting every match through the index costs
    GATHERED * s * n, so a word is checked on the rows above s = sqrt(COUNT_LIMIT /
    (GATHERED * n)). Only a plan depends on it, never a result, so a decision may
    outlive changes of the data (kept per process)."""
    table, text = (
        ("reports_userfigures", "search") if stored else ("accounts_person", SEARCH_TEXT["name"])
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        rows = float(cursor.fetchone()[0])
        cursor.execute(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE {text} LIKE UPPER(%s)", [pattern]
        )
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    share = math.sqrt(COUNT_LIMIT / (GATHERED * rows)) if rows > 0 else 1
    return rows > 0 and plan[0]["Plan"]["Plan Rows"] > share * rows


def _indexed(word: str, stored: bool) -> bool:
    """Whether a search word finds its users through an index (see search_sql)."""
    if connection.vendor != "postgresql" or len(word) < BIGRAM:
        return False
    return not _dense(f"%{connection.ops.prep_for_like_query(word)}%", stored)


def indexed_search(search: str, stored: bool) -> bool:
    """Whether a search gathers its few matches through an index before the page is
    sorted: then counting them costs nothing more in the same pass."""
    return any(_indexed(word, stored) for word in search.split())


def _holds(text: str, word: str) -> SQL:
    """`text` holds `word`, ignoring case, in the form its index answers: a two-character
    word is one of the text's bigrams (UPPER maps character to character)."""
    if len(word) == BIGRAM:
        return f"reports_bigrams({text}) @> ARRAY[UPPER(%s)]", [word]
    return f"{text} LIKE UPPER(%s)", [f"%{connection.ops.prep_for_like_query(word)}%"]


def search_sql(search: str, stored: bool = False) -> SQL:
    """Every word in a name part or the username: Django's icontains on this database.

    On PostgreSQL, `stored`: in the search text stored beside the user's figures (see
    STORED_SEARCH); a selective search is then gathered through its index by the
    caller (reports.selectors). Otherwise a word that the statistics expect in few
    persons finds its users through the indexes first; a single character, or a word
    expected in many persons, is checked on the rows as the page walks its order (the
    page fills after a few rows). SQLite checks every word on the rows.
    """
    clauses: list[str] = []
    params: list[str] = []
    column_sql = connection.ops.lookup_cast("icontains")
    operator = connection.operators["icontains"] % "%s"  # type: ignore[attr-defined]
    columns = (*SEARCHED, "accounts_user.username")
    for word in search.split():
        pattern = f"%{connection.ops.prep_for_like_query(word)}%"
        if stored:  # the index's form where it finds the word, else LIKE on each row
            held, held_params = (
                _holds(STORED_SEARCH, word)
                if _indexed(word, stored)
                else (f"{STORED_SEARCH} LIKE UPPER(%s)", [pattern])
            )
            clauses.append(held)
            params += held_params
            continue
        if _indexed(word, stored):
            named, named_params = _holds(SEARCH_TEXT["name"], word)  # person columns only
            username, username_params = _holds(SEARCH_TEXT["username"], word)
            # each found person's user by the index on person_id: a join would be planned
            # on the statistics' guess of the persons found, which overshoots for words
            # that share trigrams with common names (a hash of every user)
            clauses.append(
                "accounts_user.id IN ("
                "SELECT (SELECT found.id FROM accounts_user found"
                f" WHERE found.person_id = named.id) FROM accounts_person named WHERE {named}"
                f" UNION ALL SELECT id FROM accounts_user WHERE {username})"
            )
            params += named_params + username_params
            continue
        if connection.vendor == "postgresql":  # the same texts: their statistics guide the plan
            clauses.append(
                f"({SEARCH_TEXT['name']} LIKE UPPER(%s)"
                f" OR {SEARCH_TEXT['username']} LIKE UPPER(%s))"
            )
            params += [pattern, pattern]
            continue
        clauses.append("(" + " OR ".join(f"{column_sql % c} {operator}" for c in columns) + ")")
        params += [pattern] * len(columns)
    return " AND ".join(clauses), params

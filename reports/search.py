"""The reports' search: every word in a name part or the username.

On PostgreSQL a word of two or more characters that the statistics expect in few
persons finds its users through an index first (a selective search then reads what it
shows): the trigram indexes (pg_trgm, migration 0002) for three or more characters,
the bigram indexes (migration 0004) for two. A single character, or a word expected in
many persons, is checked on the rows as the page walks its order. SQLite checks every
word on the rows.
"""

import functools
import json

from django.db import connection

from .fields import SQL

SEARCHED = ("accounts_person.first_name", "accounts_person.infix", "accounts_person.last_name")
# PostgreSQL: the normalised texts that migrations 0002 (pg_trgm) and 0004 (bigrams) index.
SEARCH_TEXT = {
    "name": "UPPER(first_name || ' ' || infix || ' ' || last_name)",
    "username": "UPPER(username)",
}
BIGRAM = 2  # a word of two characters is found by its bigram, a longer one by trigrams
# A word that the planner expects in more than this share of the persons is checked on
# the rows as the page walks its order: the page fills long before the walk gets far,
# while collecting every match through the index first would read them all.
DENSE = 0.02


@functools.lru_cache(maxsize=512)
def _dense(pattern: str) -> bool:
    """Whether PostgreSQL's statistics put `pattern` (a LIKE pattern of the name text) in
    more than DENSE of the persons. Only a plan depends on it, never a result, so a
    decision may outlive changes of the data (kept per process)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'accounts_person'::regclass")
        persons = float(cursor.fetchone()[0])
        cursor.execute(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM accounts_person"
            f" WHERE {SEARCH_TEXT['name']} LIKE UPPER(%s)",
            [pattern],
        )
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return persons > 0 and plan[0]["Plan"]["Plan Rows"] > DENSE * persons


def _indexed(word: str) -> bool:
    """Whether a search word finds its users through an index (see search_sql)."""
    if connection.vendor != "postgresql" or len(word) < BIGRAM:
        return False
    return not _dense(f"%{connection.ops.prep_for_like_query(word)}%")


def indexed_search(search: str) -> bool:
    """Whether a search gathers its few matches through an index before the page is
    sorted: then counting them costs nothing more in the same pass."""
    return any(_indexed(word) for word in search.split())


def _holds(text: str, word: str) -> SQL:
    """`text` holds `word`, ignoring case, in the form its index answers: a two-character
    word is one of the text's bigrams (UPPER maps character to character)."""
    if len(word) == BIGRAM:
        return f"reports_bigrams({text}) @> ARRAY[UPPER(%s)]", [word]
    return f"{text} LIKE UPPER(%s)", [f"%{connection.ops.prep_for_like_query(word)}%"]


def search_sql(search: str) -> SQL:
    """Every word in a name part or the username: Django's icontains on this database.

    On PostgreSQL a word that the statistics expect in few persons finds its users
    through the indexes first (a selective search then reads what it shows); a single
    character, or a word expected in many persons, is checked on the rows as the page
    walks its order (the page fills after a few rows). SQLite checks every word on the
    rows.
    """
    clauses, params = [], []
    column_sql = connection.ops.lookup_cast("icontains")
    operator = connection.operators["icontains"] % "%s"  # type: ignore[attr-defined]
    columns = (*SEARCHED, "accounts_user.username")
    for word in search.split():
        pattern = f"%{connection.ops.prep_for_like_query(word)}%"
        if _indexed(word):
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

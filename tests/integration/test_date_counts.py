"""compose_date_counts stays exact however composes change (PostgreSQL: its trigger).

Transactions that overlap, commit out of order, roll back, delete, move a compose to
another date or truncate: after each, the counts per date equal a COUNT of composes,
also inside a snapshot taken while another transaction was still open."""

from __future__ import annotations

from typing import Any

import psycopg2

from bench.query_scale_bench import grow
from bench.run_bench import PG_DSN, admin


def _connect(database: str) -> Any:
    return psycopg2.connect(PG_DSN.replace("dbname=postgres", f"dbname={database}"))


def _copy_composes(cur: Any, low: int, high: int, date: str, offset: int) -> None:
    """New composes of `date`: the rows low..high again under new pks and ids."""
    cur.execute("CREATE TEMP TABLE copied ON COMMIT DROP AS "
                "SELECT * FROM composes WHERE pk BETWEEN %s AND %s", (low, high))
    cur.execute("UPDATE copied SET pk = pk + %(offset)s, date = %(date)s, "
                "compose_id = compose_id || '.copy' || %(offset)s",
                {"offset": offset, "date": date})
    cur.execute("INSERT INTO composes SELECT * FROM copied")
    cur.execute("DROP TABLE copied")


def _mismatches(cur: Any) -> list[Any]:
    """Dates whose summed count differs from a COUNT of their composes."""
    cur.execute("""
        SELECT coalesce(c.date, s.date), c.n, s.n
        FROM (SELECT date, count(*) AS n FROM composes GROUP BY date) AS c
        FULL JOIN (SELECT date, sum(n) AS n FROM compose_date_counts GROUP BY date) AS s
          ON s.date = c.date
        WHERE c.n IS DISTINCT FROM s.n AND NOT (c.n IS NULL AND s.n = 0)""")
    return list(cur.fetchall())


def test_counts_per_date_stay_exact_under_overlapping_writes(pg_url):
    database = pg_url.rsplit("/", 1)[1]
    admin("INSERT INTO tags (id, name, description, documentation) "
          "VALUES (1, 'qa-passed', 'QE passed', 'https://docs')", database)
    grow(database, 1600)  # dates 20200101 (1..799) and 20200102 (800..1600): the fill
    first, second, reader, checker = (_connect(database) for _ in range(4))
    checker.autocommit = True
    try:
        with checker.cursor() as cur:
            assert _mismatches(cur) == []
        with first.cursor() as a, second.cursor() as b:
            _copy_composes(a, 1, 100, "20300101", 10_000)        # open, not committed
            _copy_composes(b, 101, 150, "20300101", 20_000)
            second.commit()                                      # commits first
            reader.set_session(isolation_level="REPEATABLE READ")
            with reader.cursor() as r:
                r.execute("SELECT count(*) FROM composes")       # snapshot taken here
                first.commit()
                assert _mismatches(r) == []                      # sees 50, not 150
                r.execute("SELECT sum(n) FROM compose_date_counts WHERE date = '20300101'")
                assert r.fetchone() == (50,)
            reader.rollback()
            _copy_composes(a, 151, 180, "20300101", 30_000)
            first.rollback()                                     # counts nothing
        with checker.cursor() as cur:
            cur.execute("SELECT sum(n) FROM compose_date_counts WHERE date = '20300101'")
            assert cur.fetchone() == (150,)
            cur.execute("DELETE FROM composes WHERE pk BETWEEN 10001 AND 10010")
            cur.execute("UPDATE composes SET date = '20300102' WHERE pk BETWEEN 20101 AND 20105")
            assert _mismatches(cur) == []
            cur.execute("TRUNCATE composes CASCADE")
            cur.execute("SELECT count(*) FROM compose_date_counts")
            assert cur.fetchone() == (0,)
    finally:
        for conn in (first, second, reader, checker):
            conn.close()

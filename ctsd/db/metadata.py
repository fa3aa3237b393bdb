"""The one SQLAlchemy MetaData every table module defines its tables on.

A module of its own so that table modules (ctsd/db/tables.py, contents_tables.py) can
share it without importing each other.
"""

from __future__ import annotations

from sqlalchemy import MetaData

# Named constraints so that migrations are reproducible on PostgreSQL and SQLite alike.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

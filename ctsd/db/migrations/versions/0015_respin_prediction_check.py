"""respin prediction check: the function that undoes a group whose predicted respins
were wrong (issue #14)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 11:30:00.000000

PostgreSQL only. A group of HTTP imports may be written with respins predicted instead
of allocated beforehand (ctsd.db.predicted_imports): its one statement bumps the
counters itself and calls this function when a counter did not give the predicted
respin (or a kept answer was there to claim). The error undoes the whole statement, and
the group runs again the usual way. SQL has no RAISE of its own; a dedicated SQLSTATE
lets the write path tell this error from any other.
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_CHECK = """
CREATE FUNCTION cts_respin_prediction_failed(wrong bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'CT409',
        MESSAGE = format('%s predicted respin(s) were taken or kept answers found', wrong);
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CHECK)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION cts_respin_prediction_failed(bigint)")

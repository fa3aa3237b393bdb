"""Each compose's v1 answer stored with it (`composes.rendered`), kept exact by the
write path.

Reads answer the stored JSON as it is (ctsd.db.representation.answers_of_rows): one
query for GET /api/1/composes/{id} instead of two plus a parse and an encode, and list
pages without the relations query. It stays exact because it is written in the same
transaction as every change of what it shows, under the same row lock:

- a compose a command changes (the store's `changes_compose` methods, which run on a
  compose the handler has locked, or one just inserted) is re-rendered at commit from
  what the transaction sees, and written with the history and outbox rows;
- a compose whose answer changes because of another compose (it gains a child or a
  respin) or of a tag (renamed) is set to NULL at once. That UPDATE takes its row
  lock, so it orders itself after any transaction that is rendering it, and readers
  build a NULL answer live, as they did before answers were stored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.sql.elements import BindParameter

from ctsd.db.tables import compose_tags, composes

_PKS: BindParameter[Any] = bindparam("pks", expanding=True)

# Forget stored answers; readers render these composes live until their next change.
FORGET_ANSWERS = (update(composes).where(composes.c.pk.in_(_PKS))
                  .values(rendered=None))
FORGET_TAGGED_ANSWERS = (
    update(composes)
    .where(composes.c.pk.in_(select(compose_tags.c.compose_pk)
                             .where(compose_tags.c.tag_id == bindparam("tag_id"))))
    .values(rendered=None)
)
# The parameter names are not the column names: SQLAlchemy reserves those in the SET
# clause of an executemany UPDATE.
STORE_ANSWER = (update(composes).where(composes.c.pk == bindparam("answer_pk"))
                .values(rendered=bindparam("answer_text")))


"""What a URL names, found or refused: a compose's pk, a tag's id (by id or name)."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.tables import composes
from ctsd.db.tag_store import SqlTagStore
from ctsd.db.uow import utcnow
from handlers import v1_texts
from handlers.errors import NotFound

_PK_BY_ID = select(composes.c.pk).where(composes.c.compose_id == bindparam("compose_id"))


async def compose_pk(conn: AsyncConnection, compose_id: str) -> int:
    """The pk of the compose with this id; NotFound if there is none."""
    pk = (await conn.execute(_PK_BY_ID, {"compose_id": compose_id})).scalar()
    if pk is None:
        raise NotFound(f"Compose {compose_id} does not exist")
    return int(pk)


async def tag_id(conn: AsyncConnection, id_or_name: str) -> int:
    """The id of the tag named by id or name; NotFound if there is none."""
    tag = await SqlTagStore(conn, utcnow).get(id_or_name)
    if tag is None:
        raise NotFound(v1_texts.NO_SUCH_TAG)
    return tag.id


"""A page in the second half of a list is read from the other end with the order
reversed (ctsd.db.queries.compose_lists); it must hold exactly what walking forward
would give, for every order and filter."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import create_tag, import_compose


async def _ids(client: Any, query: str) -> tuple[int, list[str]]:
    response = await client.get(f"/api/1/composes/?{query}")
    assert response.status == 200, await response.text()
    body = await response.json()
    return body["meta"]["total"], [item["compose_info"]["payload"]["compose"]["id"]
                                   for item in body["items"]]


@pytest.mark.parametrize("query", ["", "order_by=release_version", "order_by=-respin",
                                   "order_by=label", "tag=", "tag=-gold", "tag=gold",
                                   "date_after=20200102"])
async def test_every_page_is_a_slice_of_the_whole_list(client: Any, query: str) -> None:
    await create_tag(client, "gold")
    for n in range(9):
        compose = await import_compose(client, short=f"s{n % 3}", version=f"{n % 4}.{n}",
                                       date=f"2020010{n % 5 + 1}")
        if n % 3 == 0:
            compose_id = compose["payload"]["compose"]["id"]
            response = await client.patch(f"/api/1/composes/{compose_id}",
                                          json={"action": "tag", "tag": "gold"})
            assert response.status == 200
    total, whole = await _ids(client, f"{query}&per_page=100")
    assert total == len(whole) > 2
    pages = []
    for page in range(1, total // 2 + 3):
        page_total, ids = await _ids(client, f"{query}&per_page=2&page={page}")
        assert page_total == total
        pages += ids
    assert pages == whole

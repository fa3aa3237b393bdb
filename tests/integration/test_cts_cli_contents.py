"""`cts contains`, `cts rpms`, `cts diff` against the real app over real HTTP, on
PostgreSQL and on the embedded SQLite default."""

from __future__ import annotations

import json

from tests.integration.test_contents_queries import GLIBC_7, GLIBC_8, seed
from tests.integration.test_cts_cli_workflow import cts


async def test_contains_rpms_and_diff(client, capsys):
    n0, n1, n2, fedora = await seed(client)
    code, out, _ = await cts(client, capsys, "contains", f"glibc-{GLIBC_7}",
                             "release_short=rhel")
    # The same table as `cts find`: a header line, then one compose a line.
    header, *rows = out.splitlines()
    assert code == 0 and header.split()[:2] == ["ID", "DATE"]
    assert [line.split()[0] for line in rows] == [n1, n0]
    code, out, _ = await cts(client, capsys, "contains", "zsh", "--by", "name", "--json")
    assert {c["compose_info"]["payload"]["compose"]["id"] for c in json.loads(out)} == {n1, n2}
    code, out, _ = await cts(client, capsys, "rpms", n0, "--arch", "s390x")
    assert code == 0 and out.splitlines() == [
        f"BaseOS.s390x\tbinary\tglibc-0:{GLIBC_7}.s390x",
        f"BaseOS.s390x\tsource\tglibc-0:{GLIBC_7}.src"]
    code, out, _ = await cts(client, capsys, "diff", n0, n2)
    assert code == 0
    assert f"BaseOS.x86_64\tupgraded glibc.x86_64 {GLIBC_7} -> {GLIBC_8}" in out.splitlines()
    assert "AppStream.x86_64\t+ zsh.x86_64 5.9-1" in out.splitlines()
    code, _, err = await cts(client, capsys, "contains", "glibc")
    assert code == 1 and "400" in err and "NAME-VERSION-RELEASE" in err
    assert fedora

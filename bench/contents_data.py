"""Compose contents shaped like real nightlies, for bench/contents_bench.py.

Each release stream has SRPMS source packages spread over 4 variants, built for 4
arches, a third with debuginfo: 4 binaries + (4 debuginfo) + 1 source RPM per source
package, listed under every arch, i.e. ~50,000 entries per compose. Each next nightly
of a stream rebuilds 2 % of its source packages (a new release), so consecutive
composes share ~98 % of their entries, as real nightlies do.

Seeding writes the storage format of ctsd.db.contents_tables directly (COPY): rows of
`rpms` through the same digest and row functions the import uses, so an HTTP import
afterwards finds the seeded rows as shared ones.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass, field
from typing import Any

from ctsd.db.contents_store import entry_digest, rpm_row
from handlers.composeinfo import parse_compose_info
from handlers.contents_parse import Nevra, RpmEntry

VARIANTS = ("BaseOS", "AppStream", "CRB", "HighAvailability")
ARCHES = ("x86_64", "aarch64", "s390x", "ppc64le")
SRPMS = 5400
CHURN = 0.02
# (release short, version, dist tag)
STREAMS = (("rhel", "10.0", "el10"), ("rhel", "9.6", "el9"), ("fedora", "42", "fc42"),
           ("fedora", "43", "fc43"))


def nevra(name: str, version: str, release: str, arch: str) -> Nevra:
    return Nevra(name, 0, version, release, arch, f"{name}-0:{version}-{release}.{arch}")


@dataclass
class Stream:
    short: str
    version: str
    dist: str
    rng: random.Random
    releases: list[int] = field(default_factory=list)
    # srpm index -> {(variant, arch, category): rpm id}
    ids: list[dict[tuple[str, str, str], int]] = field(default_factory=list)
    day: int = 0

    def name(self, i: int) -> str:
        return f"pkg{i:05d}"

    def entries(self, i: int) -> list[RpmEntry]:
        """Every entry of source package i at its current release."""
        name, variant = self.name(i), VARIANTS[i % len(VARIANTS)]
        version, release = f"{1 + i % 7}.{i % 13}", f"{self.releases[i]}.{self.dist}"
        srpm = nevra(name, version, release, "src")
        found = []
        for arch in ARCHES:
            built = "noarch" if i % 5 == 0 else arch
            rpms = [("binary", nevra(name, version, release, built),
                     f"{variant}/{arch}/os/Packages/{name[0]}/{name}-{version}-{release}."
                     f"{built}.rpm"),
                    ("source", srpm, f"{variant}/source/tree/Packages/{name[0]}/{name}-"
                                     f"{version}-{release}.src.rpm")]
            if i % 3 == 0:
                debug = nevra(f"{name}-debuginfo", version, release, arch)
                rpms.append(("debug", debug, f"{variant}/{arch}/debug/tree/Packages/"
                                              f"{name[0]}/{debug.name}-{version}-{release}."
                                              f"{arch}.rpm"))
            found += [RpmEntry(variant, arch, category, nevra, srpm, "fd431d51", path)
                      for category, nevra, path in rpms]
        return found

    def nvr(self, i: int, release: int | None = None) -> str:
        return (f"{self.name(i)}-{1 + i % 7}.{i % 13}-"
                f"{self.releases[i] if release is None else release}.{self.dist}")


class Seeder:
    """Assigns rpm ids and produces the COPY text of new rows and of compose sets."""

    def __init__(self, first_rpm_id: int = 1) -> None:
        self.next_id = first_rpm_id
        self.rpm_rows = io.StringIO()

    def rebuild(self, stream: Stream, i: int) -> None:
        """New rows for source package i at its current release (every release is new;
        its source RPM is one row listed under every arch)."""
        made: dict[bytes, int] = {}
        ids = {}
        for entry in stream.entries(i):
            digest = entry_digest(entry)
            if digest not in made:
                made[digest] = self.next_id
                self.rpm_rows.write(_rpm_copy_line(self.next_id, rpm_row(entry, digest)))
                self.next_id += 1
            ids[(entry.variant, entry.arch, entry.category)] = made[digest]
        stream.ids[i] = ids

    def new_stream(self, short: str, version: str, dist: str, seed: int) -> Stream:
        stream = Stream(short, version, dist, random.Random(seed), [1] * SRPMS,
                        [{} for _ in range(SRPMS)])
        for i in range(SRPMS):
            self.rebuild(stream, i)
        return stream

    def next_nightly(self, stream: Stream) -> None:
        """Rebuild 2 % of the stream's source packages with a new release."""
        for i in stream.rng.sample(range(SRPMS), int(SRPMS * CHURN)):
            stream.releases[i] += 1
            self.rebuild(stream, i)
        stream.day += 1

    def take_rpm_rows(self) -> str:
        text = self.rpm_rows.getvalue()
        self.rpm_rows = io.StringIO()
        return text


def compose_sets(stream: Stream) -> dict[tuple[str, str, str], list[int]]:
    """The compose's id arrays, in page order (names sort as the srpm index does)."""
    sets: dict[tuple[str, str, str], list[int]] = {}
    for ids in stream.ids:
        for key, rpm_id in ids.items():
            sets.setdefault(key, []).append(rpm_id)
    return sets


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


RPM_COLUMNS = ("id", "digest", "name", "epoch", "version", "release", "arch", "sigkey",
               "category", "srpm_name", "srpm_epoch", "srpm_version", "srpm_release", "path")


def _rpm_copy_line(rpm_id: int, row: dict[str, Any]) -> str:
    values = [rpm_id, *(row[column] for column in RPM_COLUMNS[1:])]
    return "\t".join(_copy_text(value) for value in values) + "\n"


def set_copy_lines(compose_pk: int, stream: Stream) -> str:
    out = io.StringIO()
    for (variant, arch, category), ids in sorted(compose_sets(stream).items()):
        array = "{" + ",".join(map(str, ids)) + "}"
        out.write(f"{compose_pk}\t{variant}\t{arch}\t{category}\t{len(ids)}\t{array}\n")
    return out.getvalue()


def id_list_copy_line(compose_pk: int, stream: Stream) -> str:
    """The compose's row of compose_rpm_ids: every distinct rpm id, ascending."""
    ids = sorted({rpm_id for ids in stream.ids for rpm_id in ids.values()})
    return f"{compose_pk}\t{{{','.join(map(str, ids))}}}\n"


def compose_row(stream: Stream, date: str) -> tuple[str, dict[str, Any], str]:
    """(compose id, composes columns, compose_info JSON) of the stream's nightly."""
    info = {"header": {"type": "productmd.composeinfo", "version": "1.2"}, "payload": {
        "compose": {"id": f"{stream.short}-{stream.version}-{date}.n.0", "date": date,
                    "respin": 0, "type": "nightly"},
        "release": {"name": stream.short.title(), "short": stream.short,
                    "version": stream.version, "type": "ga", "internal": False},
        "variants": {v: {"id": v, "uid": v, "name": v, "type": "variant",
                         "arches": list(ARCHES), "paths": {}} for v in VARIANTS}}}
    parsed = parse_compose_info(info)
    return parsed.info.compose.id, parsed.columns(), json.dumps(parsed.to_json())


def rpms_json(stream: Stream, compose_id: str) -> dict[str, Any]:
    """The stream's current contents as Pungi's rpms.json."""
    tree: dict[str, Any] = {}
    for i in range(SRPMS):
        for entry in stream.entries(i):
            srpms = tree.setdefault(entry.variant, {}).setdefault(entry.arch, {})
            srpms.setdefault(str(entry.srpm), {})[str(entry.rpm)] = {
                "path": entry.path, "sigkey": entry.sigkey, "category": entry.category}
    date = compose_id.rsplit("-", 1)[1].split(".", maxsplit=1)[0]
    return {"header": {"type": "productmd.rpms", "version": "1.2"},
            "payload": {"compose": {"id": compose_id, "date": date, "respin": 0,
                                    "type": "nightly"}, "rpms": tree}}

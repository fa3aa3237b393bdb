"""productmd rpms.json / images.json for tests, written by productmd itself."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import productmd.images
import productmd.rpms

FIXTURES = Path(__file__).parent / "fixtures" / "contents"

# (variant, arch, srpm N-E:V-R, [(rpm N-E:V-R.A, category)]) per package.
Package = tuple[str, str, str, list[tuple[str, str]]]


def package(variant: str, arch: str, name: str, evr: str, *, debug: bool = False,
            noarch: bool = False) -> Package:
    """A source package with its binary (and debuginfo) built for `arch`."""
    built = "noarch" if noarch else arch
    rpms = [(f"{name}-{evr}.{built}", "binary"), (f"{name}-{evr}.src", "source")]
    if debug:
        rpms.append((f"{name}-debuginfo-{evr}.{arch}", "debug"))
    return (variant, arch, f"{name}-{evr}", rpms)


def _compose_block(metadata: Any, compose_id: str) -> None:
    date, rest = compose_id.rsplit("-", 1)[1].split(".", 1)[0], compose_id
    metadata.compose.id = rest
    metadata.compose.date = date
    metadata.compose.type = "nightly" if ".n." in compose_id else "production"
    metadata.compose.respin = int(compose_id.rsplit(".", 1)[1])


def rpms_document(compose_id: str, packages: list[Package]) -> dict[str, Any]:
    metadata = productmd.rpms.Rpms()
    _compose_block(metadata, compose_id)
    for variant, arch, srpm, rpms in packages:
        for nevra, category in rpms:
            folder = {"binary": f"{arch}/os", "debug": f"{arch}/debug/tree",
                      "source": "source/tree"}[category]
            path = f"{variant}/{folder}/Packages/{nevra[0]}/{nevra}.rpm"
            metadata.add(variant, arch, _with_epoch(nevra), path, "fd431d51", category,
                         None if category == "source" else _with_epoch(f"{srpm}.src"))
    return _serialised(metadata)


def _with_epoch(nevra: str) -> str:
    name, version, release_arch = nevra.rsplit("-", 2)
    return nevra if ":" in version else f"{name}-0:{version}-{release_arch}"


def images_document(compose_id: str,
                    images: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    """images: (variant, arch, type, format); paths carry the compose's label."""
    metadata = productmd.images.Images()
    _compose_block(metadata, compose_id)
    label = compose_id.rsplit("-", 1)[1]
    for variant, arch, type_, format_ in images:
        image = productmd.images.Image(metadata)
        image.path = f"{variant}/{arch}/iso/{variant}-{type_}-{arch}-{label}.{format_}"
        image.mtime, image.size, image.volume_id = 1700000000, 1024, None
        image.type, image.format, image.arch = type_, format_, arch
        image.disc_number = image.disc_count = 1
        image.bootable, image.implant_md5, image.subvariant = True, None, variant
        image.add_checksum(None, "sha256", "0" * 64)
        metadata.add(variant, arch, image)
    return _serialised(metadata)


def _serialised(metadata: Any) -> dict[str, Any]:
    handle = io.StringIO()
    metadata.dump(handle)
    return json.loads(handle.getvalue())


def gzipped(document: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(document).encode())


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())

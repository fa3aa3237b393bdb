"""Read Pungi's `rpms.json` and `images.json` (productmd) into flat, validated entries.

productmd checks the header and the compose block; each RPM entry is then checked the
way productmd's own `Rpms.add` checks what it writes (N-E:V-R.A with an epoch, a known
arch, a category, a relative path), and against the column sizes of ctsd.db, so a bad
entry is a 400 naming it instead of a database error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, NamedTuple

import productmd.common
import productmd.images
import productmd.rpms

from handlers import productmd_validation
from handlers.errors import InvalidInput

productmd_validation.install()  # validators listed once per class

CATEGORIES = tuple(productmd.rpms.SUPPORTED_CATEGORIES)  # binary, debug, source
_ARCHES = frozenset(productmd.common.RPM_ARCHES) - {"src", "nosrc"}
_MAX_NAME, _MAX_VARIANT, _MAX_ARCH, _MAX_SIGKEY = 255, 100, 20, 64


# Nevra and RpmEntry are named tuples rather than frozen dataclasses: a compose has
# ~50,000 entries, and building a frozen dataclass (one object.__setattr__ per field)
# took a third of the import's parse time.
class Nevra(NamedTuple):
    name: str
    epoch: int
    version: str
    release: str
    arch: str
    text: str  # as written in the file: name-epoch:version-release.arch

    def __str__(self) -> str:
        return self.text


class RpmEntry(NamedTuple):
    """One RPM of one variant and arch of a compose (a leaf of productmd's Rpms)."""

    variant: str
    arch: str
    category: str
    rpm: Nevra
    srpm: Nevra
    sigkey: str | None
    path: str


@dataclass(frozen=True)
class ParsedRpms:
    compose_id: str
    entries: list[RpmEntry]
    digest: str  # of every entry: equal digests mean identical contents


@dataclass(frozen=True)
class ImageEntry:
    variant: str
    arch: str
    type: str
    format: str
    subvariant: str
    path: str
    identity: str
    data: dict[str, Any]


@dataclass(frozen=True)
class ParsedImages:
    compose_id: str
    entries: list[ImageEntry]
    digest: str


def parse_nevra(text: Any, where: str) -> Nevra:
    """N-E:V-R.A as productmd writes it (the epoch is required).

    Split at the last "." (arch) and the last two "-" (version, release), which is
    what productmd.common.parse_nvra's greedy pattern matches on such a string, at a
    fraction of its cost: a compose has tens of thousands of these.
    """
    if not isinstance(text, str) or ":" not in text:
        raise InvalidInput(f"{where}: expected N-E:V-R.A with an epoch, got {text!r}")
    head, _, arch = text.rpartition(".")
    parts = head.rsplit("-", 2)
    if len(parts) != 3:
        raise InvalidInput(f"{where}: {text!r} is not a valid N-E:V-R.A")
    name, epoch_version, release = parts
    epoch, _, version = epoch_version.rpartition(":")
    # Plain comparisons: this runs once per entry.
    if not epoch.isdigit() or not epoch.isascii() or len(epoch) > 9 or not name \
            or not version or not release or not arch or len(name) > _MAX_NAME \
            or len(version) > _MAX_NAME or len(release) > _MAX_NAME or len(arch) > _MAX_ARCH:
        raise InvalidInput(f"{where}: {text!r} is not a valid N-E:V-R.A")
    return Nevra(name, int(epoch), version, release, arch, text)


def _header_type(document: Any) -> Any:
    header = document.get("header") if isinstance(document, dict) else None
    return header.get("type") if isinstance(header, dict) else None


def _deserialize(document: Any, metadata: Any, kind: str) -> str:
    """Let productmd read the document; answer the compose id it names."""
    expected = f"productmd.{kind}"
    if _header_type(document) != expected:
        raise InvalidInput(f"Not a productmd {kind} file: header.type must be {expected!r}")
    try:
        metadata.deserialize(document)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"Not a valid productmd {kind} file: {exc!r}") from None
    compose_id = metadata.compose.id
    if not isinstance(compose_id, str) or not compose_id:
        raise InvalidInput(f"The {kind} file names no compose id")
    return str(compose_id)


def parse_rpms(document: Any) -> ParsedRpms:
    """Validated entries of an rpms.json document; InvalidInput naming what is wrong."""
    metadata = productmd.rpms.Rpms()
    compose_id = _deserialize(document, metadata, "rpms")
    entries: list[RpmEntry] = []
    # Each N-E:V-R.A text is parsed once: a source RPM is listed under every arch, and
    # so is a noarch package (about a third of a compose's entries repeat a text).
    nevras: dict[str, Nevra] = {}
    tree = metadata.rpms
    if not isinstance(tree, dict):
        raise InvalidInput("payload.rpms must be an object")
    for variant, arches in tree.items():
        _check_name(variant, _MAX_VARIANT, "variant")
        for arch, srpms in _items(arches, variant):
            if arch not in _ARCHES:
                raise InvalidInput(f"{variant}: unknown arch {arch!r}")
            for srpm_text, packages in _items(srpms, variant, arch):
                srpm = nevras.get(srpm_text) or _parse_once(nevras, srpm_text, variant, arch)
                for rpm_text, data in _items(packages, variant, arch, srpm_text):
                    rpm = nevras.get(rpm_text) or _parse_once(nevras, rpm_text, variant, arch,
                                                              rpm_text)
                    entries.append(_rpm_entry(variant, arch, srpm, rpm, data))
    return ParsedRpms(compose_id, entries, _digest(_rpm_line(entry) for entry in entries))


def _parse_once(known: dict[str, Nevra], text: Any, *where: str) -> Nevra:
    nevra = known[text] = parse_nevra(text, ".".join(where))
    return nevra


def _rpm_entry(variant: str, arch: str, srpm: Nevra, rpm: Nevra, data: Any) -> RpmEntry:
    # Plain checks, and the error's location only built when there is an error: this
    # runs once per entry.
    if not isinstance(data, dict):
        raise InvalidInput(f"{variant}.{arch}.{rpm.text}: expected an object with path, "
                           "sigkey and category")
    category, sigkey = data.get("category"), data.get("sigkey")
    path = data.get("path")
    if path is None and isinstance(data.get("location"), dict):
        path = data["location"].get("local_path")  # productmd format 2.0
    if category not in CATEGORIES:
        raise InvalidInput(f"{variant}.{arch}.{rpm.text}: category must be one of "
                           f"{', '.join(CATEGORIES)}")
    if (category == "source") != (rpm.arch in ("src", "nosrc")):
        raise InvalidInput(f"{variant}.{arch}.{rpm.text}: category {category} does not fit "
                           f"arch {rpm.arch}")
    if not isinstance(path, str) or not path or path.startswith("/") or len(path) > 4096:
        raise InvalidInput(f"{variant}.{arch}.{rpm.text}: path must be a relative path")
    if sigkey is not None and (not isinstance(sigkey, str) or len(sigkey) > _MAX_SIGKEY):
        raise InvalidInput(f"{variant}.{arch}.{rpm.text}: sigkey must be a key id string "
                           "or null")
    return RpmEntry(variant, arch, str(category), rpm, srpm, sigkey.lower() if sigkey else None,
                    path)


def _items(value: Any, *where: str) -> list[tuple[str, Any]]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{'.'.join(where)}: expected an object")
    return list(value.items())


def _check_name(value: Any, limit: int, what: str) -> None:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidInput(f"{what} must be a string of 1 to {limit} characters: {value!r}")


def _rpm_line(entry: RpmEntry) -> str:
    return "\t".join((entry.variant, entry.arch, entry.category, entry.rpm.text,
                      entry.srpm.text, entry.sigkey or "", entry.path))


def _digest(lines: Any) -> str:
    digest = hashlib.sha256()
    for line in sorted(lines):
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def parse_images(document: Any) -> ParsedImages:
    """Validated images of an images.json document; productmd validates each image."""
    metadata = productmd.images.Images()
    compose_id = _deserialize(document, metadata, "images")
    label = compose_id.rsplit("-", 1)[-1]
    entries = []
    for variant, arches in metadata.images.items():
        _check_name(variant, _MAX_VARIANT, "variant")
        for arch, images in arches.items():
            for image in images:
                entries.append(_image_entry(variant, arch, image, label))
    entries.sort(key=lambda entry: (entry.variant, entry.arch, entry.path))
    return ParsedImages(compose_id, entries,
                        _digest(f"{e.variant}\t{e.arch}\t{e.path}\t{e.data}" for e in entries))


def _image_entry(variant: str, arch: str, image: Any, label: str) -> ImageEntry:
    serialised: list[dict[str, Any]] = []
    try:
        image.serialize(serialised)  # productmd validates the image here
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"{variant}.{arch}: invalid image: {exc!r}") from None
    data = serialised[0]
    for key, limit in (("type", 50), ("format", 50), ("subvariant", 100)):
        if not isinstance(data.get(key) or "", str) or len(data.get(key) or "") > limit:
            raise InvalidInput(f"{variant}.{arch}: image {key} is too long")
    # Images are renamed every compose (their names carry the compose's date and
    # respin), so identity across composes masks that label.
    identity = "\t".join((str(data["type"]), str(data["format"]),
                          str(data.get("subvariant") or ""), data["path"].replace(label, "*")))
    return ImageEntry(variant, arch, str(data["type"]), str(data["format"]),
                      str(data.get("subvariant") or ""), data["path"], identity, data)


def variant_arches(compose_info: dict[str, Any]) -> set[tuple[str, str]]:
    """(variant uid, arch) pairs of a serialised ComposeInfo; nested variants included
    (productmd serialises them flat, keyed by uid)."""
    payload = compose_info.get("payload")
    variants = payload.get("variants") if isinstance(payload, dict) else None
    found: set[tuple[str, str]] = set()
    if isinstance(variants, dict):
        for variant in variants.values():
            if isinstance(variant, dict) and isinstance(variant.get("uid"), str):
                for arch in variant.get("arches") or []:
                    if isinstance(arch, str):
                        found.add((variant["uid"][:_MAX_VARIANT], arch[:_MAX_ARCH]))
    return found

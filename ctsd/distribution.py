"""A loud check that the top-level packages `handlers` and `schemas` are ctsd's own.

The design card keeps them as top-level folders, so the wheel installs them into
site-packages under those generic names. Another distribution with a package of the
same name would overwrite their files (pip does not refuse that), or one earlier on
sys.path would shadow them: either way ctsd would run somebody else's code. `ctsd`
refuses to start instead, naming the culprit (README, "Packaging").
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import sys
from pathlib import Path

TOP_LEVEL_PACKAGES = ("handlers", "schemas")
DISTRIBUTION = "ctsd"


def _our_root() -> Path:
    # ctsd/, handlers/ and schemas/ are siblings, in site-packages and in a source tree.
    return Path(__file__).resolve().parent.parent


def _location_problem(name: str) -> str | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return f"the package {name!r} of ctsd is missing"
    found = Path(spec.origin).resolve().parent
    if found != _our_root() / name:
        return (f"the package {name!r} is imported from {found}, not ctsd's own "
                f"{_our_root() / name}")
    return None


def _overwritten(names: tuple[str, ...]) -> list[str]:
    """Our files whose content no longer matches the hash our RECORD lists for them (an
    editable install or a source tree has no RECORD entries for them: nothing to check)."""
    try:
        files = importlib.metadata.distribution(DISTRIBUTION).files or []
    except importlib.metadata.PackageNotFoundError:
        return []
    wanted = {f"{name}/__init__.py" for name in names}
    problems = []
    for file in files:
        if str(file) in wanted and file.hash is not None:
            digest = hashlib.new(file.hash.mode, Path(file.locate()).read_bytes()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != file.hash.value:
                problems.append(f"{file} was overwritten by another distribution")
    return problems


def _other_owners(names: tuple[str, ...]) -> list[str]:
    claims = {f"{name}/__init__.py": name for name in names}
    problems = []
    for dist in importlib.metadata.distributions():
        dist_name = dist.metadata["Name"] or "?"
        if dist_name.lower() == DISTRIBUTION:
            continue
        for file in dist.files or ():
            if (name := claims.get(str(file))) is not None:
                problems.append(f"the distribution {dist_name!r} also installs a "
                                f"top-level package {name!r}")
    return problems


def own_files_problems(names: tuple[str, ...] = TOP_LEVEL_PACKAGES) -> list[str]:
    """Cheap (no scan of other distributions): shadowed or overwritten packages."""
    problems = [problem for name in names if (problem := _location_problem(name))]
    return problems + _overwritten(names)


def check_own_files() -> None:
    """Raise ImportError naming the problem; `import ctsd` calls it, so that neither
    `ctsd` nor `cts` runs on top of somebody else's `handlers` or `schemas`."""
    if problems := own_files_problems():
        raise ImportError(f"ctsd: {'; '.join(problems)} (README: Packaging)")


def top_level_clashes(names: tuple[str, ...] = TOP_LEVEL_PACKAGES) -> list[str]:
    """One sentence per clash found; empty when every name is ctsd's alone."""
    return own_files_problems(names) + _other_owners(names)


def exit_on_top_level_clash() -> None:
    """Exit with status 2 and one line on stderr if another package owns our names."""
    if clashes := top_level_clashes():
        print(f"ctsd: {'; '.join(clashes)} (README: Packaging)", file=sys.stderr)
        raise SystemExit(2)

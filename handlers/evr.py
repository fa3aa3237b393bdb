"""RPM version ordering: `rpmvercmp` and EVR comparison, as rpm itself orders them.

Rules (rpm's rpmvercmp): versions are split into runs of digits and runs of letters;
everything else only separates runs. Digit runs compare numerically and are newer than
letter runs; letter runs compare by byte value. `~` sorts before anything, even the end
of the string (1.0~rc1 < 1.0); `^` sorts after the end but before anything else
(1.0 < 1.0^git1 < 1.0.1). When all runs are equal, the string with runs left over is
newer.
"""

from __future__ import annotations

_SPECIAL = "~^"


def _skip_separators(text: str, at: int) -> int:
    while at < len(text) and not _is_alnum(text[at]) and text[at] not in _SPECIAL:
        at += 1
    return at


def _is_alnum(char: str) -> bool:
    # rpm's risalnum: ASCII letters and digits only, whatever the locale.
    return char.isascii() and char.isalnum()


def _run(text: str, at: int, digits: bool) -> int:
    while at < len(text) and text[at].isascii() and (
            text[at].isdigit() if digits else text[at].isalpha()):
        at += 1
    return at


def _compare_runs(left: str, right: str, digits: bool) -> int:
    if digits:
        left, right = left.lstrip("0"), right.lstrip("0")
        if len(left) != len(right):
            return 1 if len(left) > len(right) else -1
    return (left > right) - (left < right)


def _special(a: str, i: int, b: str, j: int) -> int | None:
    """-1/1 when a tilde or caret decides; 0 when both have the same one; None if none."""
    ca, cb = a[i:i + 1], b[j:j + 1]
    if ca == "~" or cb == "~":
        return 0 if ca == cb else (-1 if ca == "~" else 1)
    if ca == "^" or cb == "^":
        if not ca:
            return -1
        if not cb:
            return 1
        return 0 if ca == cb else (1 if ca != "^" else -1)
    return None


def rpmvercmp(a: str, b: str) -> int:
    """-1, 0 or 1 as version (or release) `a` is older, equal or newer than `b`."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        i, j = _skip_separators(a, i), _skip_separators(b, j)
        special = _special(a, i, b, j)
        if special is not None:
            if special:
                return special
            i, j = i + 1, j + 1
            continue
        if i >= len(a) or j >= len(b):
            break
        digits = a[i].isdigit()
        end_a, end_b = _run(a, i, digits), _run(b, j, digits)
        if end_b == j:
            # Different kinds of run: a number is newer than letters.
            return 1 if digits else -1
        result = _compare_runs(a[i:end_a], b[j:end_b], digits)
        if result:
            return result
        i, j = end_a, end_b
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


def compare_evr(a: tuple[int, str, str], b: tuple[int, str, str]) -> int:
    """Compare (epoch, version, release) triples the way rpm does."""
    if a[0] != b[0]:
        return 1 if a[0] > b[0] else -1
    return rpmvercmp(a[1], b[1]) or rpmvercmp(a[2], b[2])


def format_evr(epoch: int, version: str, release: str) -> str:
    """`E:V-R`, with the epoch left out when it is 0 (as rpm -q prints it)."""
    return f"{epoch}:{version}-{release}" if epoch else f"{version}-{release}"

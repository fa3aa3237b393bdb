"""CTS daemon: HTTP API, storage, bus adapters and command-line entry points."""

__version__ = "0.1.0"

# `handlers` and `schemas` are top-level packages: refuse to run if another
# distribution shadowed or overwrote them (ctsd/distribution.py).
from ctsd.distribution import check_own_files as _check_own_files

_check_own_files()

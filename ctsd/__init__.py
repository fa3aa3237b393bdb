"""CTS daemon: HTTP API, storage, bus adapters and command-line entry points."""

__version__ = "0.1.0"

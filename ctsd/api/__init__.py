"""The aiohttp HTTP API: a drop-in for the existing CTS `/api/1/`."""

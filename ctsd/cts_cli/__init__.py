"""`cts`: the command-line client of the CTS HTTP API, for daily release-engineering tasks."""

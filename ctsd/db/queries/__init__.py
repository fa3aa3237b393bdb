"""The read side: every SELECT the HTTP views run, and nothing that writes.

Views (ctsd/api/) parse a request, call one function here with a connection of the read
engine, and render what it returns; they import no SQLAlchemy. The write path's SQL is
in the stores (ctsd/db/*_store.py, ctsd/db/stores.py) behind the unit of work.

- filters: list query parameters -> validated SQL conditions and ORDER BY;
- seek: keyset (cursor) pagination's sort keys and the condition that seeks past them;
- compose_lists: pages of the compose list (OFFSET and keyset);
- compose_streams: latest, neighbours and lineage;
- lookup: a compose's pk or a tag's id from what a URL names, or NotFound;
- tags: tag lists, tag representations, tag history, gates, whose tags a user holds;
- promotions: promotion requests of a compose or filtered, and a compose's status;
- events: the outbox read as a commit-safe journal;
- health and metrics: database probes and counts for /health/ready and /metrics.
"""

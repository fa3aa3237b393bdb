"""The automatic fetch of a compose's contents (issue #12): durable jobs in the database
(ctsd.contents_fetch.jobs), the HTTP download (ctsd.contents_fetch.download) and the
background task of `ctsd serve` that runs them (ctsd.contents_fetch.worker)."""

"""The Prometheus registry of this process's own metrics (requests, workers, relay).

One registry per process, not prometheus_client's global default, so that importing a
module twice or creating many apps in one test run never registers a metric twice. It
sits here, below every component that counts something, so that the relay can count
its publishes without importing the HTTP layer that serves the scrape.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

REGISTRY = CollectorRegistry(auto_describe=True)

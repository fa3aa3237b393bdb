"""How ctsd reaches its brokers: connection settings (TLS, client certificates, SASL,
heartbeats, several cluster nodes), a standard fedora-messaging file as their source,
and what the relay's link to the broker looks like right now (for /health/ready)."""

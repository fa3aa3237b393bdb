"""Who is calling: authentication backends, group sources, and the chain that tries them.

Kept free of imports so that `ctsd.config` can read `ctsd.auth.settings` cheaply.
Modules: `settings` (the [auth] configuration), `noauth`, `oidc` (+ `jwks`), `proxy`,
`cert` (+ `tls` for the server side), `groups` (LDAP, static, `GroupResolver`),
`chain` (tries the enabled backends in order; `authenticator_from(settings)`).
"""

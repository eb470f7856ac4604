"""The domains data model: tenants, deployments, grants, API keys, guardrail policies, identity
providers, usage and audit. SQLAlchemy models and the functions that change them; no HTTP.

Operator actions take a Session and an actor (`cli:<user>`, `admin-api:<token-id>`), flush,
write one audit event per change, and leave the commit to the caller's unit of work:

    factory = domains.db.session_factory(url)
    with factory.begin() as session:
        key, secret = domains.keys.create_key(session, "acme", "cli:alice")

Modules: models (schema), db (engines, sessions, migrations), config (database URL, pepper),
tenants, deployments, grants, keys, policies, idp, usage, views (what the proxy routes with),
audit, validate, demo, cli. Errors raised: domains.errors.{NotFound, Conflict, Invalid}.

Keys: secret `sk-tc-` + 32 urlsafe chars (192 random bits), shown once; stored as
HMAC-SHA256(pepper, secret). `key_id` is public and stable: rotation keeps it and replaces the
secret, and the old secret fails at once. `resolve_key` handles every outcome in one path.
"""

"""Alembic environment and revisions for domains/."""

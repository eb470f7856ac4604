"""The errors operator actions raise. Callers map them to exit codes or HTTP statuses."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: the message is safe to show an operator (never contains a secret)."""


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass


class Invalid(DomainError, ValueError):
    pass

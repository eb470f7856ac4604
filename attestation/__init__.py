"""Attestation: evidence providers, verifiers (parse -> verify -> validate), policies, the
TLS-key binding and a client that verifies before use.

This package never imports engine/ or proxy/: clients install and use it on its own.
"""

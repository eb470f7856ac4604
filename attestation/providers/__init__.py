"""Evidence providers: where a report comes from inside the TEE (or the simulated one)."""

from attestation.providers.base import Evidence, GpuProvider, Provider

__all__ = ["Evidence", "GpuProvider", "Provider"]

"""Attestation test fixtures: one simulated SNP test chain per session."""

from __future__ import annotations

import pytest

from attestation.providers.simulated import SimulatedSnp


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimulatedSnp:
    return SimulatedSnp(tmp_path_factory.mktemp("sim-state"))

"""teecube: the command line that wires engine, proxy, domains and attestation together."""

__version__ = "0.1.0"

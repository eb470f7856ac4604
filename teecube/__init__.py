"""teecube: the command line that wires engine, proxy, domains and attestation together."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("teecube")  # the one version string is in pyproject.toml
except PackageNotFoundError:  # a source tree run without an install
    __version__ = "0+unknown"

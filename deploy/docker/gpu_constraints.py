"""Constraints for the GPU image: the repo's pins, except what the CUDA base image provides.

    python gpu_constraints.py constraints.txt > /tmp/constraints-gpu.txt
    pip install -c /tmp/constraints-gpu.txt .

constraints.txt pins torch==2.13.0 for the CPU wheel. In the GPU image torch (a CUDA build)
and triton come with the base image; pinning them to the repo's lines would make pip fetch
another build. So this drops the lines of the packages the base image provides and pins each
of them instead to the version already installed in this interpreter: pip keeps the base
image's CUDA build and fails loudly if it does not satisfy pyproject.toml (torch==2.13.0
accepts 2.13.0+cu130). Every other package keeps the repo's exact pin.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata

# Packages the CUDA base image ships (pytorch/pytorch, nvcr.io/nvidia/pytorch).
PROVIDED = ("torch", "triton")
CUDA_WHEEL = re.compile(r"^nvidia-[a-z0-9-]+-cu\d+$")  # nvidia-cublas-cu12, …; not nvidia-ml-py


def _name(line: str) -> str | None:
    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*[=<>!~]", line)
    return match.group(1).lower().replace("_", "-") if match else None


def provided_by_base(name: str) -> bool:
    return name in PROVIDED or bool(CUDA_WHEEL.match(name))


def gpu_constraints(lines: list[str], installed: dict[str, str]) -> list[str]:
    """The repo's constraint lines without the base image's packages, plus their installed pins."""
    out = [line for line in lines if not ((n := _name(line)) and provided_by_base(n))]
    out.append("# provided by the CUDA base image, pinned to what it ships:")
    out += [f"{name}=={version}" for name, version in sorted(installed.items()) if provided_by_base(name)]
    return out


def installed_packages() -> dict[str, str]:
    return {d.metadata["Name"].lower().replace("_", "-"): d.version for d in metadata.distributions()}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        lines = f.read().splitlines()
    installed = installed_packages()
    if "torch" not in installed:
        print("gpu_constraints: torch is not installed: use a CUDA base image with torch", file=sys.stderr)
        return 1
    print("\n".join(gpu_constraints(lines, installed)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

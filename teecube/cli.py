"""`teecube <command>`: a thin dispatcher. Each package owns its own subcommand.

Imports are lazy so that `teecube verify` (a client) never loads torch.
"""

from __future__ import annotations

import importlib
import sys

# command -> (module, function, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("teecube.serve", "main", "start engine and proxy together (--demo for the bundled model)"),
    "engine": ("engine.cli", "main", "the inference engine's OpenAI-compatible server"),
    "proxy": ("proxy.cli", "main", "the attested, domain-scoped gateway"),
    "admin": ("domains.cli", "admin_main", "operator actions: domains, deployments, grants, keys"),
    "db": ("domains.cli", "db_main", "database migrations: upgrade, downgrade, current"),
    "verify": ("attestation.cli", "verify_main", "verify a server's attestation (or saved evidence)"),
    "attest": ("attestation.cli", "attest_main", "attestation tools: policy from known-good evidence"),
    "bench": ("teecube.bench", "main", "benchmarks: throughput, serve, proxy, guardrails"),
}


def _usage() -> str:
    lines = ["usage: teecube <command> [options]", "", "commands:"]
    lines += [f"  {name:<8} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if args[0] in ("-V", "--version"):
        from teecube import __version__

        print(__version__)
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"teecube: unknown command {args[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, func_name, _ = command
    func = getattr(importlib.import_module(module_name), func_name)
    result = func(args[1:])
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())

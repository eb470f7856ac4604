"""`teecube engine`'s flag values turned into configuration: token counts, sampling defaults, TLS."""

from __future__ import annotations

import argparse
import ssl
from pathlib import Path
from typing import Any

from engine.errors import InvalidParam
from engine.loader.generation_config import read_generation_defaults


def parse_token_count(text: str) -> int:
    """vLLM's human-readable sizes: 4096, 32k / 32K (x1000 / x1024), 1m / 1M."""
    units = {"k": 1000, "K": 1024, "m": 10**6, "M": 2**20, "g": 10**9, "G": 2**30}
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a number of tokens (e.g. 4096 or 32k)"
        ) from None


def generation_defaults(args: argparse.Namespace, model_path: str) -> dict[str, Any]:
    """vLLM's --generation-config: the sampling defaults of generation_config.json (auto: the model's;
    vllm: none of the model's; a directory: its file), then --override-generation-config on top."""
    source = args.generation_config
    directory = {"auto": Path(model_path), "vllm": None, "none": None}.get(source, Path(source))
    if directory is not None and source not in ("auto",) and not directory.is_dir():
        raise InvalidParam("generation_config", f"{source}: not auto, vllm or a directory")
    defaults = read_generation_defaults(directory) if directory is not None else {}
    override = args.override_generation_config or {}
    if not isinstance(override, dict):
        raise InvalidParam("override_generation_config", "expected a JSON object of sampling fields")
    defaults = {**defaults, **override}
    from engine.server.generation_defaults import check_generation_defaults

    try:
        check_generation_defaults(defaults)
    except TypeError as exc:
        raise InvalidParam("generation_config", f"not a sampling field: {exc}") from None
    return defaults


def ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """--ssl-keyfile/--ssl-certfile (both or neither), --ssl-ca-certs and --ssl-cert-reqs, as vLLM."""
    if not (args.ssl_keyfile or args.ssl_certfile):
        if args.ssl_ca_certs or args.ssl_cert_reqs:
            raise InvalidParam("ssl_ca_certs", "needs --ssl-keyfile and --ssl-certfile")
        return None
    if not (args.ssl_keyfile and args.ssl_certfile):
        raise InvalidParam("ssl_certfile", "--ssl-keyfile and --ssl-certfile go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(args.ssl_certfile, args.ssl_keyfile)
        if args.ssl_ca_certs:
            context.load_verify_locations(args.ssl_ca_certs)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidParam("ssl_certfile", f"cannot load the certificate or key: {exc}") from None
    context.verify_mode = ssl.VerifyMode(args.ssl_cert_reqs)
    return context

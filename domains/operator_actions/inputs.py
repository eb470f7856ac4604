"""The input of every operator action: one dataclass each, fields declared with `arg()`.

These declarations are the only description of an action's fields: `teecube admin` flags, the
admin API's body checks and the console's form fields are generated from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domains.models import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_MESSAGES,
    DEFAULT_MAX_N,
    DEPLOYMENT_KINDS,
    FAIL_MODES,
)
from domains.operator_actions.fields import UNSET, ActionInvalid, arg
from domains.usage import MAX_USAGE_ROWS

MAX_EXPIRY_SECONDS = 10 * 365 * 24 * 3600
MAX_AUDIT_LIMIT = 1000
SHARED_CACHE_HELP = (
    "share this domain's prompts in the engine's prefix cache with every other sharing domain (faster "
    "repeated prefixes; RISK: a tenant can then learn by timing whether another tenant sent a prompt)"
)
ENCRYPTED_HELP = (
    "refuse requests whose body is not encrypted to the attested key (docs/encrypted-requests.md)"
)


def _limit(help: str, default: Any = None, **meta: Any) -> Any:
    return arg(help, default, minimum=1, **meta)


# ---- domains -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NoInput:
    pass


@dataclass(frozen=True, kw_only=True)
class DomainRef:
    name: str = arg("domain name", positional=True)


@dataclass(frozen=True, kw_only=True)
class DomainFilter:
    domain: str | None = arg("one domain only", None)


@dataclass(frozen=True, kw_only=True)
class DomainCreate:
    name: str = arg("domain name: 1-63 of a-z 0-9 . _ -", positional=True)
    requests_per_minute: int | None = _limit(
        "requests per minute (empty = no limit)", flags=("--rpm",), label="Requests/min"
    )
    tokens_per_minute: int | None = _limit(
        "tokens per minute (empty = no limit)", flags=("--tpm",), label="Tokens/min"
    )
    max_tokens_cap: int | None = _limit(
        "largest max_tokens a request may ask for", label="Max tokens per request"
    )
    max_body_bytes: int = _limit("largest request body", DEFAULT_MAX_BODY_BYTES)
    max_messages: int = _limit("most messages in a request", DEFAULT_MAX_MESSAGES)
    max_n: int = _limit("most choices (n) in a request", DEFAULT_MAX_N, label="Max n")
    guardrail_fail_mode: str = arg(
        "what a failing guardrail does to a request",
        "closed",
        choices=FAIL_MODES,
        label="Guardrail failure mode",
    )
    shared_prefix_cache: bool = arg(SHARED_CACHE_HELP, False)
    require_encrypted_requests: bool = arg(ENCRYPTED_HELP, False)


@dataclass(frozen=True, kw_only=True)
class DomainUpdate:
    name: str = arg("domain name", positional=True)
    requests_per_minute: int | None = _limit(
        "requests per minute (null = no limit)", UNSET, flags=("--rpm",), label="Requests/min"
    )
    tokens_per_minute: int | None = _limit(
        "tokens per minute (null = no limit)", UNSET, flags=("--tpm",), label="Tokens/min"
    )
    max_tokens_cap: int | None = _limit(
        "largest max_tokens a request may ask for", UNSET, label="Max tokens per request"
    )
    max_body_bytes: int = _limit("largest request body", UNSET)
    max_messages: int = _limit("most messages in a request", UNSET)
    max_n: int = _limit("most choices (n) in a request", UNSET, label="Max n")
    guardrail_fail_mode: str = arg(
        "what a failing guardrail does to a request",
        UNSET,
        choices=FAIL_MODES,
        label="Guardrail failure mode",
    )
    shared_prefix_cache: bool = arg(SHARED_CACHE_HELP, UNSET)
    require_encrypted_requests: bool = arg(ENCRYPTED_HELP, UNSET)


# ---- deployments -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DeploymentRef:
    name: str = arg("deployment name", positional=True)


@dataclass(frozen=True, kw_only=True)
class DeploymentAdd:
    name: str = arg("deployment name: 1-63 of a-z 0-9 . _ -", positional=True)
    kind: str = arg(
        "upstream protocol: teecube (our engine), openai (vLLM or compatible), ollama",
        choices=DEPLOYMENT_KINDS,
    )
    url: str = arg(
        "http(s)://host:port[/path] or unix:/path.sock", label="URL", placeholder="http://10.0.0.5:8000"
    )
    served_model_name: str = arg("the model name the upstream serves")
    credential_ref: str | None = arg(
        "env:VAR or file:/path (a reference, never the credential)",
        None,
        placeholder="env:NAME or file:/path",
    )
    context_length: int | None = _limit("the model's context length in tokens")


@dataclass(frozen=True, kw_only=True)
class DeploymentUpdate:
    name: str = arg("deployment name", positional=True)
    url: str = arg("http(s)://host:port[/path] or unix:/path.sock", UNSET, label="URL")
    served_model_name: str = arg("the model name the upstream serves", UNSET)
    credential_ref: str | None = arg("env:VAR or file:/path (null = none)", UNSET)
    context_length: int | None = _limit("the model's context length (null = unknown)", UNSET)


# ---- grants ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Grant:
    domain: str = arg("domain name")
    alias: str = arg("the model name the domain's requests use")
    deployment: str = arg("deployment that serves the alias")
    enabled: bool = arg(
        "route requests for the alias (--disabled: grant but keep off)", True, off_flag="--disabled"
    )
    requests_per_minute: int | None = _limit(
        "requests per minute for this alias", flags=("--rpm",), label="Requests/min"
    )
    tokens_per_minute: int | None = _limit(
        "tokens per minute for this alias", flags=("--tpm",), label="Tokens/min"
    )
    max_tokens_cap: int | None = _limit("largest max_tokens a request may ask for", label="Max tokens")
    max_prompt_tokens: int | None = _limit("largest prompt in tokens")


@dataclass(frozen=True, kw_only=True)
class GrantRef:
    domain: str = arg("domain name")
    alias: str = arg("the alias to remove")


# ---- keys --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class KeyRef:
    key_id: str = arg("key id (key_…)", positional=True)


@dataclass(frozen=True, kw_only=True)
class KeyCreate:
    domain: str = arg("domain the key belongs to")
    name: str | None = arg("a label for people", None)
    allowed_aliases: list[str] | None = arg(
        "comma-separated aliases (empty = all of the domain's)",
        None,
        flags=("--models",),
        label="Allowed aliases",
    )
    expires_at: datetime | None = arg("expiry time (ISO 8601, UTC if no zone)", None)
    expires_in_seconds: int | None = arg(
        "expiry after this long (empty = never)",
        None,
        flags=("--expires-in",),
        minimum=1,
        maximum=MAX_EXPIRY_SECONDS,
        kind="duration",
        label="Expires in",
        placeholder="30d",
    )
    requests_per_minute: int | None = _limit(
        "requests per minute for this key", flags=("--rpm",), label="Requests/min"
    )
    tokens_per_minute: int | None = _limit(
        "tokens per minute for this key", flags=("--tpm",), label="Tokens/min"
    )

    def validate(self) -> None:
        if self.expires_at is not None and self.expires_in_seconds is not None:
            raise ActionInvalid("Give expires_at or expires_in_seconds, not both.", "expires_in_seconds")


# ---- identity providers ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class IdpAdd:
    domain: str = arg("domain whose users the issuer's tokens name")
    issuer: str = arg("the iss claim, e.g. https://login.example.com")
    audience: str = arg("the aud claim tokens must carry")
    algorithms: list[str] = arg(
        "comma-separated, asymmetric only, e.g. RS256,ES256", placeholder="RS256,ES256"
    )
    domain_claim: str = arg("claim that names the domain", placeholder="tenant")
    domain_claim_value: str = arg("its value for this domain")
    aliases_claim: str | None = arg(
        "claim listing the aliases a token may use (optional; once set, a token without it is refused)", None
    )
    jwks_url: str | None = arg(
        "where the issuer publishes its keys (or give static keys)",
        None,
        label="JWKS URL",
        placeholder="https://issuer/.well-known/jwks.json",
    )
    static_keys: list[Any] | None = arg(
        "PEM or JWK public keys (CLI: one file each, repeatable)",
        None,
        flags=("--static-key-file",),
        cli_files=True,
        kind="keys",
    )


@dataclass(frozen=True, kw_only=True)
class IdpRemove:
    issuer: str = arg("issuer to stop trusting", positional=True)
    domain: str | None = arg("refuse unless the issuer belongs to this domain", None)


# ---- guardrail policies ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PolicyDomain:
    domain: str = arg("domain name")


@dataclass(frozen=True, kw_only=True)
class PolicySet:
    domain: str = arg("domain name")
    config: dict[str, Any] = arg(
        "the policy (JSON; CLI: a file, '-' = stdin)", flags=("--file",), cli_files=True
    )
    activate: bool = arg("make it the active version at once", False)


@dataclass(frozen=True, kw_only=True)
class PolicyActivate:
    domain: str = arg("domain name")
    version: int = arg("version to make active", minimum=1)


@dataclass(frozen=True, kw_only=True)
class PolicyValidate:
    config: dict[str, Any] = arg(
        "the policy to check (JSON; CLI: a file, '-' = stdin); nothing is stored",
        flags=("--file",),
        cli_files=True,
    )


# ---- usage and audit ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class UsageQuery:
    domain: str | None = arg("one domain only", None)
    since: datetime | None = arg("from this time (ISO 8601, UTC if no zone)", None)
    until: datetime | None = arg("before this time", None)
    limit: int = arg("at most this many rows (newest days first)", 1000, minimum=1, maximum=MAX_USAGE_ROWS)


@dataclass(frozen=True, kw_only=True)
class AuditQuery:
    limit: int = arg("latest this many events", 50, minimum=1, maximum=MAX_AUDIT_LIMIT)
    actor: str | None = arg("only this actor's events, e.g. console:operator", None, flag="--by")
    action: str | None = arg("only this action, e.g. key.create", None, flag="--event")
    object_type: str | None = arg("only events on this kind of object, e.g. api_key", None)

"""Provider key formats, as vendors publish them: shared by the key scanners (builtins.py) and by
the checks of the generic scanners, which leave a value in one of these formats to its provider's
scanner (`password = pypi-AgEI…` is a PyPI token, not a password).

Each entry is a short re2/Python pattern without a word boundary; the scanners add their own
boundaries and tails (vendor tokens grow past their documented length: the tail takes the rest).
"""

from __future__ import annotations

import re

# Vendor tokens with a distinctive literal start (the `vendor_token` scanner), as (start, rest). Formats
# without one (Terraform's `….atlasv1.…`, Azure AD's `…8Q~…`, Mailgun's current hex keys) are left to
# the secret's name: a stream would hold back every word that could begin them.
VENDOR_TOKENS = (
    (r"gl(?:pat|dt|rt|ptt|cbt|soat|oas|ft|imt|agent|wt|ffct)-", r"[A-Za-z0-9_-]{20}"),  # GitLab
    (r"GR1348941", r"[A-Za-z0-9_-]{20}"),  # GitLab runner registration
    (r"npm_", r"[A-Za-z0-9]{36}"),
    (r"hf_", r"[A-Za-z0-9]{34}"),  # Hugging Face
    (r"api_org_", r"[A-Za-z]{34}"),
    (r"SG\.", r"[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),  # SendGrid
    (r"pypi-AgE", r"(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{60}"),  # PyPI, TestPyPI
    (r"shp(?:at|ss|ca|pa)_", r"[a-fA-F0-9]{32}"),  # Shopify
    (r"do[por]_v1_", r"[a-f0-9]{64}"),  # DigitalOcean
    (r"dapi", r"[a-f0-9]{32}"),  # Databricks
    (r"lin_(?:api|oauth)_", r"[A-Za-z0-9]{40}"),  # Linear
    (r"dp\.(?:pt|st|sa|ct|scim|audit)\.", r"[A-Za-z0-9]{40}"),  # Doppler
    (r"PMAK-", r"[a-fA-F0-9]{24}-[a-fA-F0-9]{34}"),  # Postman
    (r"hv[sbr]\.", r"[A-Za-z0-9_-]{24}"),  # HashiCorp Vault
    (r"GOCSPX-", r"[A-Za-z0-9_-]{28}"),  # Google OAuth client secret
    (r"ya29\.", r"[A-Za-z0-9_-]{30}"),  # Google OAuth access token
    (r"key-", r"[a-f0-9]{32}"),  # Mailgun (legacy private key)
    (r"(?:bot)?[0-9]{8,10}:AA", r"[A-Za-z0-9_-]{33}"),  # Telegram bot (`api.telegram.org/bot<token>/…` too)
    (r"SK", r"[0-9a-fA-F]{32}"),  # Twilio API key
    # Discord bot: the base64 of a numeric user id, a timestamp, an HMAC
    (r"(?:MT|Mj|Mz|ND|NT|Nj|Nz|OD|OT)", r"[A-Za-z0-9_-]{22,24}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27}"),
    (r"whsec_", r"[A-Za-z0-9]{32}"),  # Stripe webhook signing secret
    (r"sq0(?:atp|csp)-", r"[A-Za-z0-9_-]{22}"),  # Square
    (r"EAA", r"[A-Za-z0-9]{90}|A[A-Za-z0-9_-]{60}"),  # Meta (Facebook) access token, Square (EAAA…)
    (r"access_token\$", r"(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}"),  # PayPal Braintree
    (r"AT[AC]TT3", r"[A-Za-z0-9_=-]{100}"),  # Atlassian API token
    (r"secret_", r"[A-Za-z0-9]{43}"),  # Notion (integration token)
    (r"ntn_", r"[0-9]{11}[A-Za-z0-9]{35}"),  # Notion
    (r"dckr_(?:pat|oat)_", r"[A-Za-z0-9_-]{27}"),  # Docker Hub
    (r"HRKU-", r"[A-Za-z0-9_-]{20}"),  # Heroku
    (r"glsa_", r"[A-Za-z0-9]{32}_[a-fA-F0-9]{8}"),  # Grafana service account
    (r"glc_", r"[A-Za-z0-9+/]{32}"),  # Grafana Cloud
    (r"NR(?:AK|JS|II)-", r"[A-Z0-9]{27}"),  # New Relic
    (r"sntry[su]_", r"[A-Za-z0-9+/=_]{40}"),  # Sentry
    (r"sbp_", r"[a-f0-9]{40}"),  # Supabase
    (r"sb_secret_", r"[A-Za-z0-9_-]{20}"),
    (r"pul-", r"[a-f0-9]{40}"),  # Pulumi
    (r"pat", r"[A-Za-z0-9]{14}\.[a-f0-9]{64}"),  # Airtable
    (r"figd_", r"[A-Za-z0-9_-]{40}"),  # Figma
    (r"sk\.eyJ", r"[A-Za-z0-9_-]{20}"),  # Mapbox secret token
    (r"gsk_", r"[A-Za-z0-9]{52}"),  # Groq
    (r"xai-", r"[A-Za-z0-9]{80}"),  # xAI
    (r"r8_", r"[A-Za-z0-9]{37}"),  # Replicate
    (r"pplx-", r"[A-Za-z0-9]{48}"),  # Perplexity
    (r"discord(?:app)?\.com/api/webhooks/", r"[0-9]{17,20}/[A-Za-z0-9_-]{60}"),  # Discord webhook
    # Bech32 secret keys: age identities (and plugin identities), Nostr private keys
    (r"AGE-SECRET-KEY-1", r"[02-9AC-HJ-NP-Z]{58}"),
    (r"AGE-PLUGIN-", r"[A-Z0-9]{1,24}-1[02-9AC-HJ-NP-Z]{20}"),
    (r"nsec1", r"[02-9ac-hj-np-z]{58}"),
    (r"lsv2_(?:pt|sk)_", r"[a-f0-9]{32}_[a-f0-9]{10}"),  # LangSmith
    (r"pcsk_", r"[A-Za-z0-9]{4,8}_[A-Za-z0-9]{40}"),  # Pinecone
    (r"tvly-", r"[A-Za-z0-9]{32}"),  # Tavily
    (r"fw_", r"[A-Za-z0-9]{24}"),  # Fireworks AI
    (r"nfp_", r"[A-Za-z0-9]{36}"),  # Netlify
    (r"rnd_", r"[A-Za-z0-9]{32}"),  # Render
    (r"fo1_", r"[A-Za-z0-9_-]{43}"),  # Fly.io
    (r"xkeysib-", r"[a-f0-9]{64}-[A-Za-z0-9]{16}"),  # Brevo (Sendinblue)
    (r"xoxe(?:\.xox[bp])?-", r"[0-9]-[A-Za-z0-9]{60}"),  # Slack refresh and rotating tokens
    (r"v1\.0-", r"[a-f0-9]{24}-[a-f0-9]{140}"),  # Cloudflare Origin CA key
)
VENDOR_PATTERN = r"\b(?:" + "|".join(start + "(?:" + rest + ")" for start, rest in VENDOR_TOKENS) + ")"
# What a stream holds back for them: a literal start, then token characters (a superset of every
# match and tail, whose closure is a small DFA; the exact one thrashes re2's cache on every delta).
VENDOR_SUPERSET = r"\b(?:" + "|".join(start for start, _ in VENDOR_TOKENS) + r")[A-Za-z0-9_.~$=+/:-]{0,230}"
VENDOR_TRIGGERS = (
    "glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "glsoat-", "gloas-", "glft-", "glimt-", "glagent-",
    "glwt-", "glffct-", "GR1348941", "npm_", "hf_", "api_org_", "SG.", "pypi-", "shpat_", "shpss_",
    "shpca_", "shppa_", "dop_v1_", "doo_v1_", "dor_v1_", "dapi", "lin_api_", "lin_oauth_", "dp.",
    "PMAK-", "hvs.", "hvb.", "hvr.", "GOCSPX-", "ya29.", "key-", "SK", "whsec_", "sq0", "EAA",
    "access_token$", "ATATT3", "ATCTT3", "secret_", "ntn_", "dckr_", "HRKU-", "glsa_", "glc_", "NR",
    "sntrys_", "sntryu_", "sbp_", "sb_secret_", "pul-", "pat", "figd_", "sk.eyJ", "gsk_", "xai-", "r8_",
    "pplx-", "discord", "AGE-SECRET-KEY-1", "AGE-PLUGIN-", "nsec1", "lsv2_", "pcsk_", "tvly-", "fw_", "nfp_",
    "rnd_", "fo1_", "xkeysib-", "xoxe", "v1.0-",
)

# Famous documentation values (jwt.io's example, Stripe's and GitHub's docs keys, Slack's docs token,
# AWS's sample secret): printed in tutorials everywhere, never live.
DOC_SAMPLES = (
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", "4eC39HqLyjWDarjtT1zdp7dc", "BQokikJOvBiI2HlWgH4olfQ2",
    "26PHem9AhJZvU623DfE1x4sd", "16C7e42F292c6912E7710c838347Ae178B4a", "pdFZKVeTuE8sk7oOcBrzbqgy",
    "wJalrXUtnFEMI/K7MDENG",
)

# Every provider format a key scanner finds, anchored at the start of a value.
_ALL = (
    r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}",
    r"AIza[0-9A-Za-z_-]{35}",
    r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
    r"xox[abposre]-[0-9]{6,14}-",
    r"sk-ant-(?:api|admin|sid)[0-9]{2}-[A-Za-z0-9_-]{80}",
    r"sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{32}",
    r"[rs]k_(?:live|test)_[A-Za-z0-9]{24}",
    *(start + "(?:" + rest + ")" for start, rest in VENDOR_TOKENS),
)
PROVIDER_VALUE = re.compile("(?:" + "|".join(_ALL) + ")")

"""Properties: no presented string resolves unless it is the secret; validators hold their line."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from domains import keys, validate
from domains.errors import Invalid
from domains.tenants import create_domain


@pytest.fixture
def backend() -> str:
    return "sqlite"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    presented=st.one_of(
        st.text(max_size=80),
        st.text(alphabet="abcdefABCDEF0123456789-_", max_size=38).map(lambda s: "sk-tc-" + s),
    )
)
@pytest.mark.slow
def test_only_the_secret_resolves(factory: sessionmaker[Session], pepper: bytes, presented: str) -> None:
    with factory.begin() as s:
        if not keys.list_keys(s):
            create_domain(s, "acme", "cli:test")
            keys.create_key(s, "acme", "cli:test", pepper=pepper)
        stored = keys.list_keys(s)[0].secret_hash
    with factory() as s:
        resolved = keys.resolve_key(s, presented, pepper)
    assert (resolved is not None) == (keys.hash_secret(presented, pepper) == stored)
    assert resolved is None


@given(
    user=st.text(min_size=1, max_size=10).filter(lambda u: "/" not in u and "#" not in u and "?" not in u),
    host=st.sampled_from(["h", "10.0.0.1", "[::1]"]),
    scheme=st.sampled_from(["http", "https"]),
)
def test_urls_with_userinfo_are_always_refused(user: str, host: str, scheme: str) -> None:
    with pytest.raises(Invalid):
        validate.upstream_url(f"{scheme}://{user}@{host}/v1")

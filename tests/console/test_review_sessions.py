"""Console review: sign-in has no throttle on success, and the session store (10,000 sessions)
dropped its oldest session when full: a tenant signing in again and again with its own valid key
pushed the operator's (and every other tenant's) session out. Now one principal (the operator, or
one API key) holds at most MAX_PER_PRINCIPAL sessions, its own oldest going first."""

from __future__ import annotations

from proxy.console import CONSOLE
from proxy.console.sessions import SessionStore
from tests.console.review import TOKEN, sign_in


def test_a_tenant_signing_in_repeatedly_does_not_push_the_operator_out(setup, http) -> None:
    cookie = sign_in(http, TOKEN)
    store = SessionStore(ttl=60, max_sessions=64, per_principal=4)
    operator_sid, _ = store.create("operator")
    tenant = [store.create("tenant", domain_id=1, domain_name="acme", key_id="key_a")[0] for _ in range(200)]
    assert store.get(operator_sid) is not None
    assert [store.get(s) is not None for s in tenant[-5:]] == [False, True, True, True, True]
    live = setup.proxy.app[CONSOLE].sessions
    cap, live._max = live._max, 40  # the live store, as full as a tenant could make 10,000 ones
    try:
        tenant_cookies = [sign_in(http, setup.tenant_key) for _ in range(60)]
        assert http.get("/console/domains", headers=cookie).status_code == 200
        assert http.get("/console/my", headers=tenant_cookies[-1]).status_code == 200
        assert http.get("/console/my", headers=tenant_cookies[0]).status_code == 303  # its own oldest went
    finally:
        live._max = cap

"""Operator admin API under `/admin/v1/`: the same actions as `teecube admin` and the console.

Routes are generated from the action table (`actions.py`). Authenticated by the operator token only
(constant-time compare); a tenant key is never accepted here. Every change writes an audit event
(done in `domains/`) as `admin-api:operator` and drops the proxy's caches, so it takes effect on
this replica at once.
"""

from proxy.routes.admin import actions
from proxy.routes.admin.common import ACTOR, routes, run_in_session

__all__ = ["ACTOR", "actions", "routes", "run_in_session"]

"""Operator actions, described once: typed inputs (`inputs.py`), the action table (`table.py`).

`teecube admin`, the admin API and the console are generated from `ACTIONS`; `parse()` is the one
validation of an action's input, whatever interface the values came from.
"""

from domains.operator_actions.catalog import Action, Context
from domains.operator_actions.fields import UNSET, ActionInvalid, FieldSpec, parse, specs
from domains.operator_actions.table import ACTIONS, BY_NAME

__all__ = ["ACTIONS", "BY_NAME", "UNSET", "Action", "ActionInvalid", "Context", "FieldSpec", "parse", "specs"]

"""Management information: how the front door keeps its timescales, and where time goes.

Everything here is read from what the engine already stores (instances and their summary,
deadlines, history, human tasks): no second set of counters that could drift from them.
The web dashboard, the JSON API, `mash report` and the Prometheus metrics all read through
these modules.

- `period`: the period and filters a manager chooses.
- `timescales`: whether a deadline counts Hub working time or elapsed time.
- `timeliness`: contacts received, deadlines met and how late, outcomes, open work now.
- `heatmap`: per diagram element, how many passed it and how long they spent there.
- `register`: the contacts register an inspection return asks for (CSV, XLSX).
- `charts`: small SVG charts, drawn on the server, readable without colour.

Who may see it: managers and admins (`may_see`); children's names appear in the register
only for the roles in `NAMES_ROLES`, and only when asked for.
"""

from __future__ import annotations

from collections.abc import Iterable

ADMIN = "admin"
# The roles that answer for the front door's timeliness (the lanes of the diagrams).
MANAGER_ROLES = frozenset({
    "MASH Team Manager / Early Help Decision Maker",
    "Pod Assistant Team Manager",
    "CE & Missing Team Manager",
})
# The roles that may see children's names in the register: the managers who decide on every
# contact and already read the names in their tasks. Others get references only.
NAMES_ROLES = frozenset({"MASH Team Manager / Early Help Decision Maker"})


class ReportError(ValueError):
    """A request for a report that cannot be answered: names the field and what to give."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def may_see(roles: Iterable[str]) -> bool:
    held = set(roles)
    return ADMIN in held or bool(held & MANAGER_ROLES)


def may_see_names(roles: Iterable[str]) -> bool:
    held = set(roles)
    return ADMIN in held or bool(held & NAMES_ROLES)

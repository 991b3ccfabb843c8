"""A missed deadline: recorded on the contact and told to the role responsible for it.

The engine records the breach itself (the deadlines table, the instance's history); this
handler makes it visible to people: a `deadline_breach` notification to `to`.
"""

from __future__ import annotations

from engine.registry import HandlerContext, handler

from .notify import send


@handler("deadline_breach", sets=("breached_deadline", "breaches"))
def deadline_breach(task: HandlerContext) -> None:
    name = task.data.get("breached_deadline") or task.prop("deadline")
    task.data["breached_deadline"] = name
    breaches: list[str] = task.data.setdefault("breaches", [])
    if name not in breaches:
        breaches.append(name)
    send(task, "deadline_breach", task.prop("to"))

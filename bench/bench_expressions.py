"""What do the expression bounds cost a gateway? Run: .venv/bin/python bench/bench_expressions.py

Evaluates the conditions and timer expressions of the real diagrams (through
`ExpressionEnvironment.evaluate`, as a gateway does, against the task data of a contact) and,
as the floor, the same expressions compiled by plain Python and `eval`-ed against the same
data in the same run. Prints microseconds per evaluation of each and their ratio.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.expressions import ExpressionEnvironment

# As in processes/*.bpmn: conditions, a timer with calendar functions, a comprehension.
EXPRESSIONS = (
    'rag == "RED"',
    "accepted and information_request",
    "not accepted",
    'previous_worker is not None and outcome in ("s17", "s47")',
    "len(ppns) > 0",
    'rag in ("RED", "AMBER")',
    'hours(4, since=opened_at) if rag == "RED" else hours(16, since=opened_at)',
    'len([f for f in flags if f != "re_referral"]) > 0',
    'outcome + "_" + rag',
)

DATA: dict[str, Any] = {
    "rag": "AMBER", "accepted": True, "information_request": False, "previous_worker": None,
    "outcome": "s17", "ppns": [{"id": 1}], "opened_at": "2026-11-23T10:00:00Z",
    "flags": ["re_referral", "immediate_risk"], "received_at": "2026-11-23T09:00:00Z",
    **{f"field_{i}": i for i in range(40)},  # a contact's data has a few dozen names
}


def hours(n: float, since: str | None = None) -> str:
    return since or ""


def per_call(runs: tuple[Any, Any], rounds: int) -> tuple[float, float]:
    """Microseconds per call of each, the best of interleaved repeats (the machine is shared:
    the least disturbed repeat is the truest)."""
    best = [float("inf"), float("inf")]
    for _ in range(9):
        for which, run in enumerate(runs):
            start = time.perf_counter()
            for _ in range(rounds):
                run()
            best[which] = min(best[which], (time.perf_counter() - start) / rounds)
    return best[0] * 1e6, best[1] * 1e6


def main() -> None:
    environment = ExpressionEnvironment({"hours": hours})
    rounds = 5_000
    total_engine = total_floor = 0.0
    print(f"{'expression':60s} {'engine µs':>10s} {'eval µs':>8s} {'ratio':>6s}")
    for source in EXPRESSIONS:
        code = compile(source, "<bench>", "eval")
        floor_globals = {"hours": hours}

        def floor(code: Any = code, floor_globals: dict[str, Any] = floor_globals) -> Any:
            return eval(code, {**floor_globals, **DATA})

        def ours(source: str = source) -> Any:
            return environment.evaluate(source, DATA)

        assert ours() == floor(), source
        engine_us, floor_us = per_call((ours, floor), rounds)
        total_engine += engine_us
        total_floor += floor_us
        print(f"{source[:60]:60s} {engine_us:10.2f} {floor_us:8.2f} {engine_us / floor_us:6.2f}")
    print(f"{'all':60s} {total_engine:10.2f} {total_floor:8.2f} {total_engine / total_floor:6.2f}")


if __name__ == "__main__":
    main()

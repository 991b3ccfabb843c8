"""Medians, the 90th percentile and lateness bands, the same way everywhere.

The median is the middle value (the mean of the two middle ones for an even count); the
90th percentile is by nearest rank: the smallest value with at least 90% of the values at
or below it. Both are easy to check by hand from the values.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

# Lateness bands in hours (on the deadline's clock): (label, above, up to and including).
LATE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("up to 1 h", 0.0, 1.0),
    ("1–4 h", 1.0, 4.0),
    ("4–8 h", 4.0, 8.0),
    ("8–24 h", 8.0, 24.0),
    ("24–72 h", 24.0, 72.0),
    ("over 72 h", 72.0, math.inf),
)


def median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def p90(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)])


def hours(seconds: float | None) -> float | None:
    """Seconds as hours, to the nearest hundredth (36 seconds)."""
    return None if seconds is None else round(seconds / 3600, 2)


def band(late_hours: float) -> int:
    """The index of the lateness band a late piece of work falls in (0 h late: the first,
    a deadline counted in working time can be missed by work done after the Hub closed)."""
    for i, (_, _, upto) in enumerate(LATE_BANDS):
        if late_hours <= upto:
            return i
    return len(LATE_BANDS) - 1


def lateness(late_hours: Sequence[float], on_time: int) -> dict[str, Any]:
    """The distribution: how many on time, how many late in each band, and how late."""
    counts = [0] * len(LATE_BANDS)
    for value in late_hours:
        counts[band(value)] += 1
    return {
        "on_time": on_time,
        "bands": [{"label": label, "above_hours": above,
                   "up_to_hours": None if math.isinf(upto) else upto, "count": count}
                  for (label, above, upto), count in zip(LATE_BANDS, counts, strict=True)],
        "median_hours": _round(median(late_hours)),
        "p90_hours": _round(p90(late_hours)),
        "max_hours": _round(max(late_hours)) if late_hours else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None

"""Hints for a mistyped name or a value in the wrong unit, shared by every message that needs one.

A scenario key, a rule, a policy parameter, a distribution or a metric that is not known gets
"did you mean ...?" (:func:`did_you_mean`, by :mod:`difflib`'s similarity); a share,
probability or growth given above 1 gets a hint that it is a fraction, not a percentage
(:func:`percent_hint`).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["FRACTION_WORDS", "did_you_mean", "is_fraction_field", "percent_hint"]

FRACTION_WORDS = (
    "share",
    "probability",
    "growth",
    "amplitude",
    "boost",
    "sensitivity",
    "disclosure",
    "relief",
    "productivity_loss",
)
"""Words that mark a field holding a fraction (0.3 for 30%)."""


def did_you_mean(word: str, options: Iterable[str], cutoff: float = 0.6) -> str:
    """`` did you mean 'x'?`` (leading space) for the closest option, or an empty string."""
    choices = sorted({str(o) for o in options})
    match = difflib.get_close_matches(str(word), choices, n=1, cutoff=cutoff)
    if not match and "_" in str(word):
        # "workload_reveiw_days" may be far from every name as a whole but near one by its parts
        match = difflib.get_close_matches(str(word).replace("_", ""), choices, n=1, cutoff=cutoff)
    return f" did you mean {match[0]!r}?" if match else ""


def is_fraction_field(field: str) -> bool:
    """Whether the field's last name says it holds a fraction (``share``, ``act_probability``)."""
    last = re.split(r"[.\[\]]", str(field).strip("."))[-1] if field else ""
    return any(word in last for word in FRACTION_WORDS)


def percent_hint(field: str, value: Any) -> str:
    """A hint when a fraction field was given a percentage (``share: 30``), else ``""``."""
    if not is_fraction_field(field) or isinstance(value, bool):
        return ""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(x) or abs(x) <= 1:
        return ""
    return (
        f" ({field.rsplit('.', 1)[-1]} is a fraction, not a percentage: "
        f"write {x / 100:g} for {x:g}%)"
    )

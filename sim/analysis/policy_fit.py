"""The policies a log shows: which allocation rule explains who got each referral, and what
happened to an absent detective's cases.

Allocation: the log is replayed (caseloads from ``allocated`` and ``closed`` rows, presence from
the absences) and each push rule's choice compared with the detective who got the referral. A
rule that misses a share ε of the N allocations scores ``(N−m) log(ε/(k−1)) + m log(1−ε)`` (its
choice, or a uniformly wrong one among the k − 1 others): the log-likelihood of the rule with an
error rate fitted by maximum likelihood. Referrals first allocated later than they arrived point to
a team queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["AllocationEvidence", "LeaveRuleEvidence", "allocation_evidence", "leave_rule_evidence"]


@dataclass(frozen=True)
class AllocationEvidence:
    """Per candidate rule: matches out of ``n`` and log-likelihood; the best rule."""

    n: int
    matches: dict[str, int]
    loglik: dict[str, float]
    queued_share: float
    best: str
    max_cases: int


def _spells_by_detective(absences: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for name, rows in absences.groupby("detective"):
        out[str(name)] = (
            rows["start_day"].to_numpy(float),
            rows["end_day"].fillna(np.inf).to_numpy(float),
        )
    return out


def _present(spells: dict[str, tuple[np.ndarray, np.ndarray]], name: str, day: float) -> bool:
    if name not in spells:
        return True
    starts, ends = spells[name]
    return not bool(np.any((starts <= day) & (ends > day)))


def allocation_evidence(
    events: pd.DataFrame, absences: pd.DataFrame, staff: pd.DataFrame
) -> AllocationEvidence:
    """Compare least_loaded_fte, least_loaded_cases and round_robin on the log's allocations."""
    names = list(staff["detective"])
    fte = dict(zip(staff["detective"], staff["fte"], strict=True))
    spells = _spells_by_detective(absences)
    order = {"referral": 0, "allocated": 1, "closed": 2}
    rows = events[events["activity"].isin(tuple(order))].copy()
    rows["rank"] = rows["activity"].map(order)
    rows = rows.sort_values(["day", "rank"], kind="stable")
    owner: dict[str, str] = {}
    held = dict.fromkeys(names, 0)
    arrived: dict[str, float] = {}
    first_done: set[str] = set()
    matches = {"least_loaded_fte": 0, "least_loaded_cases": 0, "round_robin": 0}
    n = queued = 0
    last_rr = -1
    max_cases = 0
    for case_id, day, activity, resource in zip(
        rows["case_id"], rows["day"], rows["activity"], rows["resource"], strict=True
    ):
        if activity == "referral":
            arrived[case_id] = day
        elif activity == "allocated" and resource in held:
            if case_id not in first_done:
                first_done.add(case_id)
                if day - arrived.get(case_id, day) > 1e-6:
                    queued += 1
                else:
                    present = [d for d in names if _present(spells, d, day)]
                    if present:
                        n += 1
                        by_fte = min(present, key=lambda d: held[d] / fte[d])
                        by_cases = min(present, key=lambda d: held[d])
                        matches["least_loaded_fte"] += by_fte == resource
                        matches["least_loaded_cases"] += by_cases == resource
                        k = len(names)
                        rr = next(
                            (
                                names[(last_rr + j) % k]
                                for j in range(1, k + 1)
                                if names[(last_rr + j) % k] in present
                            ),
                            present[0],
                        )
                        matches["round_robin"] += rr == resource
                    last_rr = names.index(resource)
            previous = owner.get(case_id)
            if previous is not None:
                held[previous] -= 1
            owner[case_id] = resource
            held[resource] += 1
            max_cases = max(max_cases, held[resource])
        elif activity == "closed":
            previous = owner.pop(case_id, None)
            if previous is not None:
                held[previous] -= 1
    k = max(len(names), 2)
    loglik = {}
    for rule, m in matches.items():
        eps = (n - m) / n if n else 0.0
        loglik[rule] = (m * math.log(1 - eps) if m and eps < 1 else 0.0) + (
            (n - m) * math.log(eps / (k - 1)) if n - m else 0.0
        )
    total = queued + n
    queued_share = queued / total if total else 0.0
    best = "team_queue" if queued_share > 0.5 else max(loglik, key=loglik.__getitem__)
    return AllocationEvidence(n, matches, loglik, queued_share, best, max_cases)


@dataclass(frozen=True)
class LeaveRuleEvidence:
    """What happened to the cases of detectives absent longer than the rule's delay."""

    rule: str | None  # None: no absence long enough to show it
    after_days: float
    colleague: str | None
    moves: int
    absences_seen: int


def leave_rule_evidence(
    events: pd.DataFrame, absences: pd.DataFrame, min_days: float = 28.0
) -> LeaveRuleEvidence:
    """Reallocations made while the previous holder was away: none (keep), all to one colleague
    (single_colleague), or to several (spread); the delay is their median time into the absence.

    Only absences longer than ``min_days`` count; with none, the rule is not identifiable (None).
    """
    alloc = events[events["activity"] == "allocated"].sort_values("day", kind="stable")
    long = absences[(absences["end_day"].fillna(np.inf) - absences["start_day"]) > min_days]
    owner: dict[str, str] = {}
    delays: list[float] = []
    targets_by_absence: dict[int, set[str]] = {}
    for case_id, day, resource in zip(
        alloc["case_id"], alloc["day"], alloc["resource"], strict=True
    ):
        previous = owner.get(case_id)
        owner[case_id] = resource
        if previous is None or previous == resource:
            continue
        away = long[
            (long["detective"] == previous)
            & (long["start_day"] <= day)
            & (long["end_day"].fillna(np.inf) > day)
        ]
        if len(away):
            delays.append(day - float(away["start_day"].iloc[0]))
            targets_by_absence.setdefault(int(away.index[0]), set()).add(resource)
    if not delays:
        return LeaveRuleEvidence("keep" if len(long) else None, min_days, None, 0, len(long))
    after = float(np.median(delays))
    singles = all(len(t) == 1 for t in targets_by_absence.values())
    everyone = set().union(*targets_by_absence.values())
    if singles and len(everyone) == 1:
        return LeaveRuleEvidence(
            "single_colleague", after, next(iter(everyone)), len(delays), len(long)
        )
    return LeaveRuleEvidence("spread", after, None, len(delays), len(long))

"""Default names of result folders (light: the command line names its folder, and checks it,
before the heavy modules are imported and the workers started)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sim.scenario import Scenario, scenario_hash

__all__ = ["default_compare_folder"]


def default_compare_folder(scenarios: Sequence[Scenario], baseline: int = 0) -> str:
    """``compare_<baseline>_<hash>``: the hash is of the set of scenarios compared, so that two
    comparisons with the same baseline but other scenarios never share (and replace) a folder."""
    digest = hashlib.blake2b(digest_size=4)
    for key in sorted(f"{s.name}:{scenario_hash(s, runs=False)}" for s in scenarios):
        digest.update(key.encode())
    return f"compare_{scenarios[baseline].name}_{digest.hexdigest()}"

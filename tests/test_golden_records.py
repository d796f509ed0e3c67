"""Every shipped scenario's records are bit-identical to the stored digests.

Refactors and speed-ups must not change a single draw or record. When the model is changed on
purpose, regenerate the digests with ``python tests/test_golden_records.py`` and say why in the
commit.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

import sim

ROOT = Path(__file__).resolve().parents[1]
DIGESTS = ROOT / "tests" / "data" / "golden_records.json"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
OVERRIDES = ("horizon_days=900", "warmup_days=180")
REPLICATIONS = 3
SEED = 20240601


def records_digest(path: Path) -> dict[str, str]:
    """SHA-256 of each record table (cases, replications, backlog, detectives) as CSV."""
    scenario = sim.load_scenario(path, overrides=OVERRIDES)
    result = sim.simulate(scenario, replications=REPLICATIONS, seed=SEED)
    tables = {
        "cases": result.cases,
        "replications": result.replications,
        "backlog": result.backlog,
        "detectives": result.detectives,
    }
    return {
        name: hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
        for name, frame in tables.items()
    }


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_records_match_stored_digests(path: Path) -> None:
    """A shipped scenario gives exactly the records it gave when the digests were stored."""
    stored = json.loads(DIGESTS.read_text())
    assert path.stem in stored, f"no stored digest for {path.name}: regenerate the digests"
    assert records_digest(path) == stored[path.stem]


if __name__ == "__main__":
    digests = {path.stem: records_digest(path) for path in SCENARIOS}
    DIGESTS.write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n")
    sys.stdout.write(f"wrote {DIGESTS} ({len(digests)} scenarios)\n")

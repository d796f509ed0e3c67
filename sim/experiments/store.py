"""A sweep's folder: run rows in Parquet parts, a run manifest, the sweep's description.

Layout of ``DIR``::

    sweep.json            the design, the base scenario, seed, replications, versions
    manifest.jsonl        one line per finished attempt: run_id, status, attempts, host, seconds
    runs/part-NNNNNN.parquet   one row per stored run (run_id, point, swept keys, replication,
                          the per-replication metrics)
    runs/journal.jsonl    rows finished since the last part, one JSON line each

Rows are buffered: each finished run is appended (and flushed) to the journal at once, and the
journal is turned into a Parquet part every ``flush_rows`` runs or ``flush_seconds`` seconds, so
a large sweep makes few files, yet a killed sweep loses only the runs that were in flight. A part
is written to a temporary file and renamed into place, so no reader ever sees half a part.
Opening the store recovers a journal left by a killed sweep (a torn last line is dropped), and
reading de-duplicates by ``run_id``, so a kill between writing a part and emptying the journal
never shows a run twice. It also makes the manifest whole again: a torn last line is cut off,
and a run stored before the kill could write its manifest line gets that line.

``sweep.json`` lists the model key of every design point (``point_keys``), so :meth:`table`
reads the runs of the current design only, numbered by it: a folder resumed with a changed
design (a CI cache restored, a point added) keeps the runs of its former points for later, but
its tables are those a sweep of the current design from scratch would give.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.experiments.sweep import design_runs

__all__ = ["SweepStore"]

JOURNAL = "journal.jsonl"


class SweepStore:
    """Reads and appends the runs of one sweep folder.

    Args:
        root: the sweep folder (created if missing).
        flush_rows: journal rows that trigger a new Parquet part.
        flush_seconds: age of the oldest journal row (s) that triggers a new part.
    """

    def __init__(self, root: Path, flush_rows: int = 2000, flush_seconds: float = 60.0) -> None:
        self.root = Path(root)
        self.runs = self.root / "runs"
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self._buffer: list[dict[str, Any]] = []
        self._since: float | None = None
        self._journal: Any = None
        self._manifest: Any = None

    # --- reading -------------------------------------------------------------------------------

    def parts(self) -> list[Path]:
        """The Parquet parts, in writing order."""
        return sorted(self.runs.glob("part-*.parquet"))

    def read_journal(self) -> list[dict[str, Any]]:
        """Rows of the journal; a torn (half-written) last line is ignored."""
        path = self.runs / JOURNAL
        rows: list[dict[str, Any]] = []
        if not path.exists():
            return rows
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.endswith("\n"):
                    break  # the write of this line was interrupted
                rows.append(json.loads(line))
        return rows

    def table(self) -> pd.DataFrame:
        """Every stored run of the current design, one row each, by design point and replication.

        Rows are matched to the design of ``sweep.json`` by run id and take its point numbers
        and parameter values; runs of points no longer in the design are left out. A folder
        without ``point_keys`` (an older sweep) gives every stored run as stored.
        """
        table = self.stored_table()
        info = self.sweep_info() if (self.root / "sweep.json").exists() else {}
        if "point_keys" not in info:
            return table
        return _in_design(table, info)

    def stored_table(self) -> pd.DataFrame:
        """Every stored run, one row each, as stored, ordered by point and replication."""
        frames = [pd.read_parquet(p) for p in self.parts()]
        journal = self.read_journal() + self._buffer
        if journal:
            frames.append(pd.DataFrame(journal))
        if not frames:
            return pd.DataFrame(columns=["run_id", "point", "replication"])
        table = pd.concat(frames, ignore_index=True).drop_duplicates("run_id", keep="first")
        return table.sort_values(["point", "replication"], ignore_index=True)

    def stored_ids(self) -> set[str]:
        """The run ids already stored."""
        ids: set[str] = set()
        for part in self.parts():
            ids.update(pq.read_table(part, columns=["run_id"]).column("run_id").to_pylist())
        ids.update(row["run_id"] for row in self.read_journal())
        return ids

    def manifest(self) -> pd.DataFrame:
        """The run manifest, the last line of each run (its latest status)."""
        path = self.root / "manifest.jsonl"
        if not path.exists():
            return pd.DataFrame(columns=["run_id", "status", "attempts", "host", "seconds"])
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines(keepends=True)]
        rows = [json.loads(ln) for ln in lines if ln.endswith("\n")]
        frame = pd.DataFrame(rows)
        return frame.drop_duplicates("run_id", keep="last").reset_index(drop=True)

    def sweep_info(self) -> dict[str, Any]:
        """The content of ``sweep.json``."""
        info: dict[str, Any] = json.loads((self.root / "sweep.json").read_text(encoding="utf-8"))
        return info

    # --- writing -------------------------------------------------------------------------------

    def open(self) -> int:
        """Prepare for appending: clear temporary files, recover a left-over journal, and give
        every stored run its manifest line.

        Returns:
            How many manifest lines were restored (runs stored before a kill could record them).
        """
        self.runs.mkdir(parents=True, exist_ok=True)
        for tmp in self.runs.glob(".part-*.tmp"):
            tmp.unlink()  # a part whose write was interrupted: its rows are still in the journal
        left = self.read_journal()
        if left:
            stored: set[str] = set()
            for part in self.parts():
                stored.update(pq.read_table(part, columns=["run_id"]).column("run_id").to_pylist())
            fresh = {row["run_id"]: row for row in left if row["run_id"] not in stored}
            if fresh:
                self._write_part(list(fresh.values()))
        (self.runs / JOURNAL).unlink(missing_ok=True)
        self._journal = (self.runs / JOURNAL).open("a", encoding="utf-8")
        lines = self._clean_manifest()
        self._manifest = (self.root / "manifest.jsonl").open("a", encoding="utf-8")
        return self._complete_manifest(lines)

    def _clean_manifest(self) -> list[dict[str, Any]]:
        """Drop a torn last line (and any line that is not JSON) so appending stays readable."""
        path = self.root / "manifest.jsonl"
        if not path.exists():
            return []
        text = path.read_text(encoding="utf-8")
        kept: list[str] = []
        rows: list[dict[str, Any]] = []
        for line in text.splitlines(keepends=True):
            try:
                row = json.loads(line) if line.endswith("\n") else None
            except ValueError:
                row = None
            if isinstance(row, dict) and "run_id" in row:
                kept.append(line)
                rows.append(row)
        if "".join(kept) != text:
            tmp = self.root / ".manifest.jsonl.tmp"
            tmp.write_text("".join(kept), encoding="utf-8")
            os.replace(tmp, path)
        return rows

    def _complete_manifest(self, lines: list[dict[str, Any]]) -> int:
        """Append an ``ok`` line for each stored run whose last manifest line is not ``ok``."""
        last = {row["run_id"]: row.get("status") for row in lines}
        restored = 0
        for part in self.parts():
            cols = pq.read_table(part, columns=["run_id", "point", "replication"]).to_pylist()
            for row in cols:
                if last.get(row["run_id"]) != "ok":
                    last[row["run_id"]] = "ok"
                    restored += 1
                    self.record(
                        {
                            "run_id": row["run_id"],
                            "point": row["point"],
                            "replication": row["replication"],
                            "status": "ok",
                            "attempts": None,
                            "host": None,
                            "seconds": None,
                            "error": None,
                            "restored": True,
                        }
                    )
        return restored

    def write_info(self, info: Mapping[str, Any]) -> None:
        """Write ``sweep.json`` atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / ".sweep.json.tmp"
        tmp.write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, self.root / "sweep.json")

    def add(self, row: Mapping[str, Any]) -> None:
        """Store one finished run's row (journal now, Parquet part later)."""
        assert self._journal is not None, "open() the store first"
        self._journal.write(json.dumps(row, default=_json_default) + "\n")
        self._journal.flush()
        self._buffer.append(dict(row))
        if self._since is None:
            self._since = time.monotonic()
        if (
            len(self._buffer) >= self.flush_rows
            or time.monotonic() - self._since >= self.flush_seconds
        ):
            self.flush()

    def record(self, entry: Mapping[str, Any]) -> None:
        """Append one line to the run manifest."""
        assert self._manifest is not None, "open() the store first"
        self._manifest.write(json.dumps(entry, default=_json_default) + "\n")
        self._manifest.flush()

    def flush(self) -> None:
        """Turn the buffered rows into a Parquet part, then empty the journal."""
        if self._buffer:
            self._write_part(self._buffer)
            self._buffer = []
        self._since = None
        if self._journal is not None:
            self._journal.truncate(0)
            self._journal.seek(0)

    def close(self) -> None:
        """Flush and close the files."""
        self.flush()
        for handle in (self._journal, self._manifest):
            if handle is not None:
                handle.close()
        self._journal = self._manifest = None
        (self.runs / JOURNAL).unlink(missing_ok=True)

    def _write_part(self, rows: Iterable[Mapping[str, Any]]) -> Path:
        existing = self.parts()
        number = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
        final = self.runs / f"part-{number:06d}.parquet"
        tmp = self.runs / f".part-{number:06d}.tmp"
        table = pa.Table.from_pandas(pd.DataFrame(list(rows)), preserve_index=False)
        pq.write_table(table, tmp)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())  # the part is whole on disk before its name appears
        os.replace(tmp, final)
        return final


def _in_design(table: pd.DataFrame, info: Mapping[str, Any]) -> pd.DataFrame:
    """The rows of the design in ``info``, numbered and labelled by it (see :meth:`table`)."""
    design = info["design"]
    params = [p["key"] for p in design["parameters"]]
    points = design["points"]
    where = design_runs(info["point_keys"], int(info["seed"]), int(info["replications"]))
    table = table[table["run_id"].isin(where.keys())].copy()
    located = [where[r] for r in table["run_id"]]
    table["point"] = pd.Series([p for p, _ in located], index=table.index, dtype="int64")
    table["replication"] = pd.Series([r for _, r in located], index=table.index, dtype="int64")
    for key in params:
        table[key] = [points[p][key] for p, _ in located]
    rest = [c for c in table.columns if c not in {"run_id", "point", "replication", *params}]
    table = table[["run_id", "point", *params, "replication", *rest]]
    return table.sort_values(["point", "replication"], ignore_index=True)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    return str(value)

"""Named random streams for one replication.

Every source of randomness in a replication draws from its own numpy ``Generator``, seeded from
``SeedSequence(root_seed, spawn_key=(replication, stable_hash(name)))``. The seed therefore never
depends on a scenario's content or its policies: two scenarios run with the same root seed see the
same referrals with the same attributes (common random numbers), and adding a stream leaves every
other stream's draws unchanged.
"""

from __future__ import annotations

import hashlib

from numpy.random import PCG64, Generator, SeedSequence

__all__ = ["Streams", "stable_hash"]


def stable_hash(name: str) -> int:
    """A 64-bit hash of ``name`` that is the same in every process and Python version."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "big")


class Streams:
    """The named random streams of one replication.

    Args:
        root_seed: the experiment's seed.
        replication: the replication's index (0-based).
    """

    __slots__ = ("_cache", "replication", "root_seed")

    def __init__(self, root_seed: int, replication: int) -> None:
        if root_seed < 0 or replication < 0:
            raise ValueError("seed and replication must be non-negative")
        self.root_seed = root_seed
        self.replication = replication
        self._cache: dict[str, Generator] = {}

    def __getitem__(self, name: str) -> Generator:
        """The generator called ``name``, created on first use."""
        rng = self._cache.get(name)
        if rng is None:
            sequence = SeedSequence(self.root_seed, spawn_key=(self.replication, stable_hash(name)))
            rng = self._cache[name] = Generator(PCG64(sequence))
        return rng

    def __repr__(self) -> str:
        return f"Streams(root_seed={self.root_seed}, replication={self.replication})"

"""Garbage-collector settings for the bundle's own entry points (``__main__.py``, ``render``).

A Pulumi program allocates a few container objects per registered resource (Outputs, futures,
input dicts) that live until the program ends, so CPython's cyclic collector keeps re-scanning a
growing young generation that is almost never garbage: at 500 services collection was 36-60 % of
evaluation time. Freezing what the imports created (modules, classes, the config model) moves it
out of every later collection, and a higher generation-0 threshold collects less often. Process-
wide, so only the entry points call it - never a library import. Measured in bench/bench.py
(docs/bench.md).
"""

from __future__ import annotations

import gc

# Allocations between generation-0 collections (CPython's default is 700).
GEN0_THRESHOLD = 50_000


def tune_gc() -> None:
    """Call once, after the imports: freeze everything alive now, collect young objects less often."""
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)

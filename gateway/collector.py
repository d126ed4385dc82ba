"""Python's garbage collector, set for a server once the application has started.

A GraphQL answer is built of many small containers (dicts, lists, the executor's records)
that reference counting frees as soon as the answer is sent; the cyclic collector is needed
only for the rare cycle. At Python's default (a collection every 700 new containers), it ran
through a third of the time of a 10,000-object answer, scanning objects that were about to be
freed anyway. So, once at start-up:

- everything made while starting (modules, the schema, the settings) is frozen out of the
  collector's sight (`gc.freeze`): it lives as long as the process, and scanning it again and
  again finds nothing;
- the youngest generation is collected every `threshold` new containers instead of 700.

Garbage made of cycles is still collected, only in larger, rarer sweeps (`bench` measures
both time and memory; docs/performance.md has the run).
"""

from __future__ import annotations

import gc

DEFAULT_THRESHOLD = 50_000
_frozen = False


def tune(threshold: int) -> None:
    """Freeze what start-up made (once per process) and set the youngest generation's
    threshold; 0 leaves Python's defaults alone."""
    global _frozen
    if threshold <= 0:
        return
    if not _frozen:
        gc.collect()  # nothing that is already garbage gets frozen
        gc.freeze()
        _frozen = True
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)

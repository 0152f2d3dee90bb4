"""Start-up without the garbage collector.

Until a command runs, or the form has drawn its first frame, mailsetup only builds things
that live as long as the process: modules, classes, the parser, the form's widgets and
styles. The collector would walk them again and again, a sizeable part of the form's start-up
(benchmarks/startup.py), and free nothing. So it is off from the entry point until then. A
command then simply collects as usual: it ends in a moment. The form stays for minutes, so a
moment after its first frame one full collection frees what start-up threw away, and what
survives is frozen out of the collector's walks for good (`gc.freeze`); collection goes on as
usual for what comes after.
"""

from __future__ import annotations

import gc

_holding = False


def hold_collection() -> None:
    """Called first thing by the entry point, before anything is imported."""
    global _holding
    if gc.isenabled():
        gc.disable()
        _holding = True


def release_collection(*, settle: bool = False) -> None:
    """Start-up is over: collect as usual from now on; with `settle` (a process that stays),
    first collect start-up's garbage and freeze the rest. Does nothing where
    `hold_collection` did not stop collection (the tests call the front ends directly, and
    must not freeze each other's leftovers in place)."""
    global _holding
    if _holding:
        _holding = False
        if settle:
            gc.collect()
            gc.freeze()
        gc.enable()

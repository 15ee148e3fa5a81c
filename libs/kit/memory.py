"""The garbage collector of a long-running process: start-up's objects are frozen once it is serving.

A full collection walks every tracked object, and a service's tens of thousands of start-up objects
(modules, pydantic and SQLAlchemy models, FastStream's handlers) live as long as the process: at 200 tool
calls/s, full collections paused the gateway and the patients service for 55–97 ms about every 30 s, which
alone set p99. Frozen, those objects are never walked again (measured: p99 13 → 7 ms, max 107 → 13 ms).
"""

import gc


def freeze_startup_objects() -> None:
    """Call once start-up is done: collect start-up's garbage, then move the survivors out of the
    collector's generations for good."""
    gc.collect()
    gc.freeze()

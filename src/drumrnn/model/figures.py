"""Next-token figures (loss, perplexity, accuracies) from sums over targets.

One reduction for NumPy evaluation, training's validation and the n-gram baseline, so that
their figures mean the same thing.
"""

from __future__ import annotations

import math


def figures(encoding: str, sums: dict) -> dict:
    """Loss (nats per target), perplexity and accuracies from sums over targets: ``nll``,
    ``count``, ``right``; steps: ``event``/``event_right`` (targets with hits, BAR tokens
    left out), ``silent``/``silent_right``; events: ``drum_right``, ``delta_right``. Absent
    sums count as 0. Used by this module, training's validation and the n-gram baseline."""
    count = max(sums.get("count", 0), 1)
    loss = sums.get("nll", 0.0) / count
    out = {"loss": loss, "perplexity": math.exp(min(loss, 50.0)),
           "accuracy": sums.get("right", 0) / count}
    if encoding == "steps":
        out["event_accuracy"] = sums.get("event_right", 0) / max(sums.get("event", 0), 1)
        out["no_event_accuracy"] = sums.get("silent_right", 0) / max(sums.get("silent", 0), 1)
    else:
        out["drum_accuracy"] = sums.get("drum_right", 0) / count
        out["delta_accuracy"] = sums.get("delta_right", 0) / count
    return out

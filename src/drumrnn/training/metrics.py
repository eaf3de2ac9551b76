"""Next-token metrics: loss, perplexity and accuracies, summed over batches then reduced."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from drumrnn.model.figures import figures


def token_loss(logits: torch.Tensor, delta_logits: torch.Tensor | None, batch) -> torch.Tensor:
    """Mean cross-entropy (nats) over the real targets; events sum the drum and delta terms."""
    mask = batch.mask.reshape(-1)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch.targets.reshape(-1),
                           reduction="none")
    if delta_logits is not None:
        loss = loss + F.cross_entropy(delta_logits.reshape(-1, delta_logits.shape[-1]),
                                      batch.delta_targets.reshape(-1), reduction="none")
    return (loss * mask).sum() / mask.sum().clamp(min=1)


class MetricSums:
    """Accumulates sums over evaluation batches; :meth:`result` gives the figures.

    steps: ``accuracy`` of the argmax token, ``event_accuracy`` on steps whose target has hits
    (Magenta's event accuracy) and ``no_event_accuracy`` on silent steps. events: accuracy of
    the drum, of the delta, and of both together (``accuracy``).
    """

    def __init__(self, encoding: str, bar_token: int = -1):
        self.encoding, self.bar = encoding, bar_token
        self.sums: dict[str, float] = {}

    def _add(self, name: str, value) -> None:
        self.sums[name] = self.sums.get(name, 0.0) + float(value)

    @torch.no_grad()
    def update(self, logits: torch.Tensor, delta_logits: torch.Tensor | None, batch) -> None:
        mask = batch.mask.bool()
        targets = batch.targets
        nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
        right = logits.argmax(-1) == targets
        if delta_logits is not None:
            nll = nll + F.cross_entropy(delta_logits.transpose(1, 2), batch.delta_targets,
                                        reduction="none")
            delta_right = delta_logits.argmax(-1) == batch.delta_targets
            self._add("drum_right", (right & mask).sum())
            self._add("delta_right", (delta_right & mask).sum())
            right = right & delta_right
        self._add("nll", nll[mask].sum())
        self._add("count", mask.sum())
        self._add("right", (right & mask).sum())
        if self.encoding == "steps":
            silent = targets == 0
            event = ~silent & (targets != self.bar)  # no BAR token: bar is -1, never a target
            self._add("event", (event & mask).sum())
            self._add("event_right", (right & event & mask).sum())
            self._add("silent", (silent & mask).sum())
            self._add("silent_right", (right & silent & mask).sum())

    def result(self) -> dict[str, float]:
        return figures(self.encoding, self.sums)

"""The model's log-likelihood of the ids the constraint chose, for ranking the candidates (transfer/ranking.py)."""
from __future__ import annotations

import torch


class ChosenLikelihood:
    """Per step, each row's log-likelihood of its chosen id (the model's distribution at temperature 1,
    unfiltered), kept on the device and summed once.

    A step counts for the rows still writing, except a non-final window's stop token (``final`` False):
    that EOS is not the model's choice.
    """

    def __init__(self, eos: int, final: bool):
        self.eos, self.final = eos, final
        self._ll: list[torch.Tensor] = []  # per step: [B] log-likelihood of the chosen ids
        self._scored: list[list[bool]] = []

    def record(self, logits: torch.Tensor, tokens: torch.Tensor, chosen: list[int], finished: list[bool]) -> None:
        """One step: ``tokens`` (the ``chosen`` ids, on the logits' device) against ``logits`` [B, V]."""
        self._ll.append(logits.gather(1, tokens[:, None]).squeeze(1) - torch.logsumexp(logits, -1))
        stop = not self.final
        self._scored.append([not f and not (stop and c == self.eos) for f, c in zip(finished, chosen)])

    def total(self) -> torch.Tensor | None:
        """[B] summed over the steps that count (None before the first step)."""
        if not self._ll:
            return None
        ll = torch.stack(self._ll, 1)
        return (ll * torch.tensor(self._scored, device=ll.device, dtype=ll.dtype).T).sum(1)

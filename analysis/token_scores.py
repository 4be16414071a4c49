"""The model's own probability of what it chose, read from its token probabilities.

A VLM writes `"label": "sarcastic"`; the number it might write next to it is not a
probability, but the softmax it decoded from is. `TokenRecorder` keeps, for every generated
step, the log-probabilities of the top-k tokens (k small, so a 150k vocabulary × 256 steps ×
batch never sits in memory). `choice_probs` then gives:

- the chosen value's probability: the product of the probabilities of the tokens that wrote
  it (exact: the probability of that string given everything before it);
- each alternative's probability, estimated by tokenizing the same context with the
  alternative in its place and following the generated tokens until the first one that
  differs: P(shared prefix) × P(first different token). That bounds the alternative from above
  and is tight for labels that part ways in their first token or two, as ours do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor

TOP_K = 20


class TokenRecorder(LogitsProcessor):
    """Records top-k log-probabilities per step; changes nothing. Put it last in the list so it
    sees the scores greedy decoding picks from."""

    def __init__(self, k: int = TOP_K):
        self.k = k
        self._ids: list[torch.Tensor] = []
        self._logp: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        logp = torch.log_softmax(scores.float(), dim=-1)
        values, ids = logp.topk(min(self.k, logp.shape[-1]), dim=-1)
        self._ids.append(ids)
        self._logp.append(values)
        return scores

    def rows(self) -> list[StepScores]:
        """One StepScores per batch row, on the CPU."""
        if not self._ids:
            return []
        ids = torch.stack(self._ids, dim=1).cpu()  # batch × steps × k
        logp = torch.stack(self._logp, dim=1).cpu()
        return [StepScores(ids[b], logp[b]) for b in range(ids.shape[0])]


@dataclass
class StepScores:
    ids: torch.Tensor  # steps × k token ids
    logp: torch.Tensor  # steps × k log-probabilities

    def logprob(self, step: int, token: int) -> float:
        """log P(token) at `step`; -inf when it was outside the recorded top-k (or past the end)."""
        if step >= self.ids.shape[0]:
            return -math.inf
        hits = (self.ids[step] == token).nonzero()
        return float(self.logp[step, hits[0, 0]]) if len(hits) else -math.inf


class Decoded:
    """A generated token sequence, its text, and where each token ends in that text."""

    def __init__(self, tokenizer, ids: list[int]):
        self.tokenizer, self.ids = tokenizer, ids
        self.text = self._decode(len(ids))
        self._ends: dict[int, int] = {}

    def _decode(self, n: int) -> str:
        return self.tokenizer.decode(self.ids[:n], skip_special_tokens=False,
                                     clean_up_tokenization_spaces=False)

    def end_of(self, n: int) -> int:
        """Length of the text of the first n tokens."""
        if n not in self._ends:
            self._ends[n] = len(self._decode(n))
        return self._ends[n]

    def token_at(self, char: int) -> int:
        """Index of the token that writes character `char` (binary search over prefixes; the
        lengths only wobble inside a multi-byte character, never inside ASCII JSON)."""
        lo, hi = 0, len(self.ids)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.end_of(mid + 1) > char:
                hi = mid
            else:
                lo = mid + 1
        return lo


def choice_probs(decoded: Decoded, scores: StepScores, span: tuple[int, int],
                 options: tuple[str, ...], chosen: str) -> dict[str, float]:
    """P(option) at the value written at `span`, which the parser read as `chosen` (see the
    module docstring). Only `chosen` is present when the written text does not re-tokenize to
    the generated tokens (a synonym, other casing, a prefix-space tokenizer): alternatives
    cannot be placed then, and the caller says so."""
    start, end = span
    first, last = decoded.token_at(start), decoded.token_at(end - 1)
    written = decoded.text[start:end]
    out = {chosen: math.exp(sum(scores.logprob(t, decoded.ids[t])
                                for t in range(first, min(last + 1, len(decoded.ids)))))}
    head = decoded.text[decoded.end_of(first):start]  # e.g. the opening quote, when merged
    if written != chosen or not _retokenizes(decoded, first, head + chosen):
        return out
    for option in options:
        if option != chosen:
            out[option] = _alternative(decoded, scores, first, head + option)
    return out


def _retokenizes(decoded: Decoded, first: int, text: str) -> bool:
    """Whether `text` alone tokenizes as it was generated (the last token may differ: it can
    merge with the closing quote), so alternatives can be tokenized the same way."""
    ids = decoded.tokenizer.encode(text, add_special_tokens=False)
    n = max(1, len(ids) - 1)
    return ids[:n] == decoded.ids[first:first + n]


def _alternative(decoded: Decoded, scores: StepScores, first: int, text: str) -> float:
    logp = 0.0
    for j, token in enumerate(decoded.tokenizer.encode(text, add_special_tokens=False)):
        step = first + j
        logp += scores.logprob(step, token)
        if step >= len(decoded.ids) or token != decoded.ids[step]:
            break  # the first token where the alternative parts from what was generated
    return math.exp(logp)

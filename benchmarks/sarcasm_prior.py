"""Choose fusion's stream sarcasm prior and the odds of cue-less sarcasm on DEV data.

    nice python -m benchmarks.sarcasm_prior [--sample N]

Scores the dev texts once with the shipped text model (`TextModel.predict`, embed=always),
then fuses them text-only (the dev sets have no images) for each grid point and prints the
sarcasm dev figures (TweetEval irony F1, MMSD2.0 accuracy, ToSarcasm macro-F1) beside the
false-sarcasm rate on sincere positives (ChnSentiCorp held-out and TweetEval sentiment
positives). The demo is deliberately not used: it is the smoke test, not the tuning set.
"""

from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np

from analysis import datasets as D
from analysis import fusion
from analysis import train as T
from analysis.heads import TextModel

PRIORS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.45)
UNCUED = (1.0, 0.7, 0.5, 0.35)
SARCASM_SETS = [d for d in T.DEV_SETS if d.task == "sarcasm"]
SINCERE = (("chnsenticorp", D.chnsenticorp("heldout")),
           ("tweeteval-sentiment", D.tweeteval("sentiment", "val")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=300)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(T.SEED)
    model = TextModel.load()
    sets = {d.name: (d, _sample(_split(d.corpus), args.sample, rng)) for d in SARCASM_SETS}
    positives = {n: _sample(s.subset([i for i, y in enumerate(s.labels) if y == "positive"]),
                            args.sample, rng) for n, s in SINCERE}
    scored = {name: model.predict(s.texts, [s.lang] * len(s), embed="always")
              for name, (_, s) in sets.items()}
    scored.update({name: model.predict(s.texts, [s.lang] * len(s), embed="always")
                   for name, s in positives.items()})
    names = [d.name.split(" (")[0] for d in SARCASM_SETS] + [f"FS {n}" for n in positives]
    print(f"{'prior':>5} {'uncued':>6} " + " ".join(f"{n:>16}" for n in names))
    for prior, uncued in itertools.product(PRIORS, UNCUED):
        fusion.UNCUED_SARCASM_ODDS = uncued
        row = []
        for name, (dev, split) in sets.items():
            pred = [int(fusion.fuse(s, prior=prior).sarcasm) for s in scored[name]]
            row.append(T.score(dev.metric, split.labels, pred))
        for name in positives:
            row.append(np.mean([fusion.fuse(s, prior=prior).sarcasm for s in scored[name]]))
        print(f"{prior:5.2f} {uncued:6.2f} " + " ".join(f"{v:16.3f}" for v in row), flush=True)
    return 0


def _split(corpus: str) -> D.Split:
    return {"tweeteval-irony-val": lambda: D.tweeteval("irony", "val"),
            "mmsd2-valid": lambda: D.mmsd2("valid"),
            "tosarcasm-dev": lambda: D.tosarcasm("dev")}[corpus]()


def _sample(split: D.Split, n: int, rng) -> D.Split:
    return split if len(split) <= n else split.subset(sorted(rng.choice(len(split), n,
                                                                        replace=False)))


if __name__ == "__main__":
    sys.exit(main())

"""Choose fusion's per-language sarcasm reference prior and cue-less odds on DEV data.

    nice python -m benchmarks.sarcasm_prior [--sample N] [--prior 0.35]
        [--artifacts analysis/artifacts/e5] [--exclude QUALITY_KEEP_DIR]

Scores the dev texts once with the shipped text model (`TextModel.predict`, embed=always),
then fuses them text-only (the dev sets have no images) at the stream prior for each grid
point of one language's reference prior (fusion.TRAINING_SARCASM_PRIOR) and cue-less odds
(fusion.UNCUED_SARCASM_ODDS), and prints that language's sarcasm dev figures (English:
TweetEval irony F1, MMSD2.0 accuracy; Chinese: ToSarcasm macro-F1) beside its false-sarcasm
rate on sincere positives (TweetEval sentiment positives and TweetEval emotion val joy;
ChnSentiCorp held-out positives and SMP2020 virus_dev joy).
The sets are monolingual, so each language's two constants are chosen on its own sets.
The demo is deliberately not used: it is the smoke test, not the tuning set.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

from analysis import datasets as D
from analysis import fusion
from analysis import train as T
from analysis.heads import TextModel

REFERENCE = (0.35, 0.45, 0.55, 0.6, 0.7)
UNCUED = (1.0, 0.7, 0.5, 0.35)
COMPLAINT = (1.0, 0.5, 0.25, 0.1)  # fusion.PLAIN_COMPLAINT_ODDS, at the shipped ref / uncued
SARCASM_SETS = [d for d in T.DEV_SETS if d.task == "sarcasm"]
# Sincere positives, two per language: (name, language, split, its positive labels). The joy
# sets are held out from the sarcasm heads (they train on TweetEval emotion train and SMP2020
# virus_train's joyful posts).
SINCERE = (("tweeteval-sentiment", "en", lambda: D.tweeteval("sentiment", "val"),
            ("positive",)),
           ("tweeteval-emotion-joy", "en", lambda: D.tweeteval("emotion", "val"), ("joy",)),
           ("chnsenticorp", "zh", lambda: D.chnsenticorp("heldout"), ("positive",)),
           ("smp2020-virus_dev-joy", "zh", lambda: D.smp2020("virus_dev"), ("joy",)))
# Sincere negatives: a plain complaint called sarcastic is a wrong label too (and a wrong
# "disguised criticism" alert when a picture is attached).
# TweetEval emotion val's angry and sad tweets (held out from every head; TweetEval sentiment's
# negatives trained the sentiment head, whose polarity the rule reads) and ChnSentiCorp's
# held-out negative reviews.
COMPLAINTS = (("tweeteval-emotion-anger+sadness", "en", lambda: D.tweeteval("emotion", "val"),
               ("anger", "sadness")),
              ("chnsenticorp-neg", "zh", lambda: D.chnsenticorp("heldout"), ("negative",)))
# The corpus (analysis/train.py's name, as benchmarks.quality writes ids) of each group above.
CORPUS = {"tweeteval-sentiment": "tweeteval-sentiment-val",
          "tweeteval-emotion-joy": "tweeteval-emotion-val",
          "tweeteval-emotion-anger+sadness": "tweeteval-emotion-val",
          "chnsenticorp": "chnsenticorp-heldout", "chnsenticorp-neg": "chnsenticorp-heldout",
          "smp2020-virus_dev-joy": "smp2020-virus_dev"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--prior", type=float, default=fusion.STREAM_SARCASM_PRIOR,
                        help="the stream prior to fuse at")
    parser.add_argument("--artifacts", type=Path, default=None,
                        help="the text model to score with (e.g. analysis/artifacts/e5)")
    parser.add_argument("--exclude", type=Path, default=None,
                        help="a `benchmarks.quality --keep` folder: its rows are not used, "
                             "so that run's figures stay held out from the constants chosen")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(T.SEED)
    model = TextModel.load(args.artifacts) if args.artifacts else TextModel.load()
    skip = T.kept_rows(args.exclude) if args.exclude else {}
    sets = {d.name: (d, _sample(_without(_split(d.corpus), skip.get(d.corpus)), args.sample,
                                rng)) for d in SARCASM_SETS}
    positives = _labelled(SINCERE, args.sample, rng, skip)
    negatives = _labelled(COMPLAINTS, args.sample, rng, skip)
    scored = {name: model.predict(s.texts, [s.lang] * len(s), embed="always")
              for name, (_, s) in [*sets.items(), *positives.items(), *negatives.items()]}
    shipped = (dict(fusion.TRAINING_SARCASM_PRIOR), dict(fusion.UNCUED_SARCASM_ODDS))
    for lang in ("en", "zh"):
        mine = [n for n, (_, s) in sets.items() if s.lang == lang]
        sincere = [n for n, (x, _) in positives.items() if x == lang]
        print(f"\n{lang}: {'ref':>5} {'uncued':>6} "
              + " ".join(f"{n.split(' (')[0]:>16}" for n in mine)
              + " ".join(f"{'FS ' + n:>22}" for n in sincere))
        for ref, uncued in itertools.product(REFERENCE, UNCUED):
            fusion.TRAINING_SARCASM_PRIOR[lang] = ref
            fusion.UNCUED_SARCASM_ODDS[lang] = uncued
            row = _figures(mine, sincere, sets, scored, args.prior)
            print(f"    {ref:5.2f} {uncued:6.2f} " + " ".join(f"{v:16.3f}" for v in row[:len(mine)])
                  + " ".join(f"{v:22.3f}" for v in row[len(mine):]), flush=True)
        fusion.TRAINING_SARCASM_PRIOR[lang] = shipped[0][lang]
        fusion.UNCUED_SARCASM_ODDS[lang] = shipped[1][lang]
        _complaint_grid(lang, mine, sincere, sets, scored, negatives, args.prior)
    return 0


def _complaint_grid(lang, mine, sincere, sets, scored, negatives, prior) -> None:
    """fusion.PLAIN_COMPLAINT_ODDS at the shipped reference and cue-less odds: the sarcasm
    figures, false sarcasm on sincere positives and on plain complaints."""
    complaints = [n for n, (x, _) in negatives.items() if x == lang]
    print(f"  {lang} plain-complaint odds (ref {fusion.TRAINING_SARCASM_PRIOR[lang]}, "
          f"uncued {fusion.UNCUED_SARCASM_ODDS[lang]}): " + " | ".join(
              [n.split(' (')[0] for n in mine] + [f"FS {n}" for n in sincere + complaints]))
    shipped = fusion.PLAIN_COMPLAINT_ODDS[lang]
    for odds in COMPLAINT:
        fusion.PLAIN_COMPLAINT_ODDS[lang] = odds
        row = _figures(mine, sincere + complaints, sets, scored, prior)
        print(f"    {odds:5.2f}  " + "  ".join(f"{v:.3f}" for v in row), flush=True)
    fusion.PLAIN_COMPLAINT_ODDS[lang] = shipped


def _figures(mine, noise, sets, scored, prior) -> list[float]:
    """The fused sarcasm figure of each dev set in `mine`, then the share called sarcastic
    of each set in `noise`, at fusion's current constants."""
    row = [T.score(sets[n][0].metric, sets[n][1].labels,
                   [int(fusion.fuse(s, prior=prior).sarcasm) for s in scored[n]]) for n in mine]
    return row + [float(np.mean([fusion.fuse(s, prior=prior).sarcasm for s in scored[n]]))
                  for n in noise]


def _labelled(groups, n: int, rng, skip=None) -> dict[str, tuple[str, D.Split]]:
    """name -> (language, up to n sampled rows of its split carrying one of its labels)."""
    picked = {}
    for name, lang, load, wanted in groups:
        split = _without(load(), (skip or {}).get(CORPUS[name]))
        picked[name] = (lang, _sample(split.subset(
            [i for i, y in enumerate(split.labels) if y in wanted]), n, rng))
    return picked


def _without(split: D.Split, rows: set[int] | None) -> D.Split:
    return split.subset([i for i in range(len(split)) if i not in rows]) if rows else split


def _split(corpus: str) -> D.Split:
    return {"tweeteval-irony-val": lambda: D.tweeteval("irony", "val"),
            "mmsd2-valid": lambda: D.mmsd2("valid"),
            "tosarcasm-dev": lambda: D.tosarcasm("dev")}[corpus]()


def _sample(split: D.Split, n: int, rng) -> D.Split:
    return split if len(split) <= n else split.subset(sorted(rng.choice(len(split), n,
                                                                        replace=False)))


if __name__ == "__main__":
    sys.exit(main())

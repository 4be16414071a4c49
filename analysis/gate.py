"""Which posts the encoders are worth: the gate of `embed = "auto"`.

The encoders (frozen e5, the fine-tuned English MiniLM) cost ~25 ms a post on two cores; the
fast pass (n-grams, cues, lexicons) about 1 ms. Most posts get the same verdict either way, so
`auto` encodes only the posts whose verdict the encoders would likely change. A logistic model
reads the fast pass's own scores (the margins of the text-only verdict, of the sentiment and of
the emotion, the sarcasm score, the language, the length, whether a cue was found) and predicts
P(the encoders change the post's label or emotion). Its weights are a few numbers in
`analysis/artifacts/gate.json`, fitted by

    python -m analysis.gate            # ~3 minutes: encodes ~6,000 dev texts once

on texts no quality figure is computed on: TweetEval hate and offensive val (used nowhere else)
and the dev rows that `benchmarks.quality --sample 400` does not draw (their ids are stored,
and the benchmark leaves them out). No label is needed: the target is whether the verdict moves.
Without the file the gate falls back to the fast verdict's uncertainty (`heads.uncertainty`).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis import fusion
from analysis.verdict import EMOTIONS

FILE = "gate.json"
FEATURES = ("label_margin", "sentiment_margin", "emotion_margin", "sarcasm", "stream_sarcasm",
            "is_zh", "log_chars", "has_cue", "abs_polarity",
            "label_sarcastic", "label_positive", "label_negative", "label_neutral",
            *(f"emotion_{e}" for e in EMOTIONS))
LABELS = ("sarcastic", "positive", "negative", "neutral")


def _margin(values) -> float:
    top = sorted(values, reverse=True)
    return top[0] - top[1]


def features(scores, text: str) -> np.ndarray:
    """FEATURES of one text's fast-pass scores (a `heads.TextScores`)."""
    stream = fusion.stream_sarcasm(scores)
    outcomes = {"sarcastic": stream, **{k: (1 - stream) * v for k, v in scores.sentiment.items()}}
    label = max(outcomes, key=outcomes.get)
    emotion = max(scores.emotion, key=scores.emotion.get)
    return np.array([
        _margin(outcomes.values()), _margin(scores.sentiment.values()),
        _margin(scores.emotion.values()), scores.sarcasm, stream, scores.lang == "zh",
        math.log1p(len(text)), bool(scores.cues), abs(scores.features.get("lexicon_polarity", 0.0)),
        *(label == x for x in LABELS), *(emotion == e for e in EMOTIONS)], dtype=np.float32)


@dataclass
class Gate:
    weights: np.ndarray  # over FEATURES, already divided by the training scale
    bias: float
    threshold: float  # encode where P(change) >= threshold

    @classmethod
    def load(cls, directory: Path) -> Gate | None:
        path = Path(directory) / FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path}: fitted on other features; refit with python -m "
                             "analysis.gate")
        return cls(np.array(data["weights"], dtype=np.float64), float(data["bias"]),
                   float(data["threshold"]))

    def p_change(self, rows: np.ndarray) -> np.ndarray:
        # float64 and |z| <= 30 keep P strictly inside (0, 1): threshold 0 encodes every post,
        # 1 none, as the config documents
        z = rows.astype(np.float64) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


# --- fitting -----------------------------------------------------------------------------------

# Texts per source, at most: enough for ~20 weights, bounded in encoding time.
PER_SOURCE = 1000
# The sets whose remaining dev rows the gate may read (the ones the shipped heads trained on,
# TweetEval sentiment val and SMP2020 usual_dev, are left out: their fast verdicts are in-sample).
DEV_SOURCES = ("tweeteval-irony-val", "mmsd2-valid", "tosarcasm-dev", "chnsenticorp-heldout",
               "smp2020-virus_dev")
UNUSED = (("tweeteval", "hate"), ("tweeteval", "offensive"))  # English tweets no head read
BENCHMARK_SAMPLE = 400  # the README's quality figures: benchmarks.quality --sample 400
# The smallest share of posts to encode such that the gate catches this share of the verdicts
# the encoders change (measured out of fold on the gate's rows).
CATCH = 0.8


def fit_rows(per_source: int = PER_SOURCE, seed: int = 13) -> list[tuple[str, int, str, str]]:
    """(source, row, text, lang) of the texts the gate is fitted on."""
    from analysis import datasets as D
    from analysis import train as T

    rng = np.random.default_rng(seed)
    rows = []
    for folder, task in UNUSED:
        texts = [D.normalize_tweet(t) for t in D._lines(D.data_dir() / folder / task
                                                          / "val_text.txt") if t.strip()]
        take = sorted(rng.choice(len(texts), min(per_source, len(texts)), replace=False))
        rows += [(f"{folder}-{task}-val", int(i), texts[i], "en") for i in take]
    corpora = T.load_corpora(None)
    drawn = D.sampled_rows({n: len(corpora[n].split) for n in T.benchmark_corpora()},
                           BENCHMARK_SAMPLE, T.SEED)
    for name in DEV_SOURCES:
        split = corpora[name].split
        free = sorted(set(range(len(split))) - set(drawn[name]))
        take = sorted(rng.choice(free, min(per_source, len(free)), replace=False))
        rows += [(name, int(i), split.texts[i], split.lang) for i in take]
    return rows


def targets(model, texts: list[str], langs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Gate features of the fast pass and whether encoding changed the text-only verdict."""
    fast = model.predict(texts, langs, embed="never")
    full = model.predict(texts, langs, embed="always")
    X = np.stack([features(s, t) for s, t in zip(fast, texts, strict=True)])
    changed = np.array([_call(a) != _call(b) for a, b in zip(fast, full, strict=True)])
    return X, changed


def _call(scores) -> tuple[str, str]:
    fused = fusion.fuse(scores)
    return fused.label, fused.emotion


def catch_curve(p: np.ndarray, changed: np.ndarray) -> list[tuple[float, float, float]]:
    """(threshold, share encoded, share of changes caught) from the highest P down."""
    order = np.argsort(-p)
    caught = np.cumsum(changed[order]) / max(1, changed.sum())
    n = len(p)
    return [(float(p[order[k - 1]]), k / n, float(caught[k - 1]))
            for k in range(1, n + 1)]


def fit(directory: Path, per_source: int = PER_SOURCE, log=print) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from analysis.heads import TextModel

    t0 = time.perf_counter()
    rows = fit_rows(per_source)
    model = TextModel.load(directory)
    X, y = targets(model, [r[2] for r in rows], [r[3] for r in rows])
    log(f"{len(rows)} texts encoded in {time.perf_counter() - t0:.0f}s; "
        f"the encoders changed {y.mean():.1%} of verdicts")
    scale = X.std(axis=0) + 1e-6
    out_of_fold = np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=13).split(X, y):
        lr = LogisticRegression(C=1.0, max_iter=2000).fit(X[train] / scale, y[train])
        out_of_fold[test] = lr.predict_proba(X[test] / scale)[:, 1]
    curve = catch_curve(out_of_fold, y)
    threshold, share, caught = next(c for c in curve if c[2] >= CATCH)
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(X / scale, y)
    points = {f"{s:.2f}": round(next(c[2] for c in curve if c[1] >= s), 3)
              for s in (0.1, 0.2, 0.3, 0.4, 0.5)}
    log(f"out of fold: encoding {share:.1%} catches {caught:.1%} of the changes "
        f"(threshold {threshold:.3f}); caught by share encoded: {points}")
    data = {"features": list(FEATURES), "weights": (lr.coef_[0] / scale).round(6).tolist(),
            "bias": round(float(lr.intercept_[0]), 6), "threshold": round(threshold, 4),
            "provenance": {"command": "python -m analysis.gate", "texts": len(rows),
                           "changed_share": round(float(y.mean()), 4), "catch_target": CATCH,
                           "encoded_share": round(share, 4), "caught_by_share": points,
                           "rows": _row_ids(rows)}}
    (Path(directory) / FILE).write_text(_dumps(data), encoding="utf-8")
    return data


def _dumps(data: dict) -> str:
    """Indented JSON with each list of numbers on one line (thousands of row ids)."""
    text = json.dumps(data, indent=1)
    return re.sub(r"\[[-\d.e,\s]+\]", lambda m: "[" + ", ".join(m.group(0)[1:-1].split())
                  .replace(",,", ",") + "]", text) + "\n"


def _row_ids(rows) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for source, i, _, _ in rows:
        out.setdefault(source, []).append(i)
    return out


def fitted_rows(directory: Path) -> dict[str, set[int]]:
    """The dev rows the shipped gate was fitted on (a quality benchmark leaves them out)."""
    path = Path(directory) / FILE
    if not path.exists():
        return {}
    rows = json.loads(path.read_text(encoding="utf-8"))["provenance"]["rows"]
    return {name: set(ids) for name, ids in rows.items()}


def main(argv: list[str] | None = None) -> int:
    from analysis.heads import ARTIFACTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ARTIFACTS,
                        help="the artifacts folder whose heads the gate serves")
    parser.add_argument("--per-source", type=int, default=PER_SOURCE,
                        help="texts per source (a small number is a smoke test)")
    args = parser.parse_args(argv)
    fit(args.out, args.per_source)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

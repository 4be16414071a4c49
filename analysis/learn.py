"""Learning from reviewers: a small per-deployment correction layer on top of the shipped model.

`python -m subtext learn` fits, per language, a multinomial logistic regression from what the
analyzer already said about a post (its label, sarcasm score, confidence, per-modality
polarity, incongruity, emotions) to the label reviewers gave. It never touches the shipped
heads, so a Subtext upgrade keeps it: it lives in the data directory (`learned/`), bound to
the base analyzer it was fitted on (a layer for another base is ignored, with a warning).

A few hundred labels must not wreck it: half of a shipped dev sample (the analyzer's own
verdicts on public dev sets, gold labels, no text) is mixed in with as much weight as the
reviews, and the candidate is installed only when it beats the current model on a held-out
part of the reviewed posts and is not worse than MARGIN on the other half of the dev sample.
Each attempt writes a report; installed layers are kept, so `learn --rollback` returns to the
previous one. Verdicts are stamped `<base>+learned.<N>`, so history says which layer spoke.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from analysis.verdict import EMOTIONS, LABELS, Item, Verdict

FOLDER = "learned"  # under the data directory
DEV_SAMPLE = Path(__file__).resolve().parent / "learn_dev_sample.json"
MARGIN = 0.02  # how much dev accuracy a candidate may lose
HOLDOUT = 0.3  # share of reviewed posts kept out of fitting, to judge the candidate
MIN_HOLDOUT = 10
C = 1.0  # inverse L2 strength
log = logging.getLogger(__name__)


# -- features: what the analyzer said, before any layer -------------------------------------

def model_output(verdict: dict) -> dict:
    """The base analyzer's own fields of a verdict dict (a layered verdict keeps them in
    evidence.learned.model)."""
    learned = (verdict.get("evidence") or {}).get("learned")
    return {**verdict, **learned["model"]} if learned else verdict


def features(verdict: dict) -> np.ndarray:
    raw = model_output(verdict)
    evidence = raw.get("evidence") or {}
    polarity = evidence.get("polarity") or {}
    emotions = raw.get("emotions") or {}
    return np.array([
        *(float(raw["label"] == label) for label in LABELS),
        raw["sarcasm_score"], raw["confidence"], polarity.get("text") or 0.0,
        polarity.get("caption") or 0.0, polarity.get("faces") or 0.0,
        float(polarity.get("caption") is not None), evidence.get("incongruity") or 0.0,
        evidence.get("text_sarcasm") or 0.0, *(emotions.get(e, 0.0) for e in EMOTIONS),
    ], dtype=float)


def lang_of(verdict: dict) -> str:
    lang = (verdict.get("evidence") or {}).get("lang") or verdict.get("lang") or "en"
    return "zh" if str(lang).startswith("zh") else "en"


# -- the layer ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layer:
    version: int
    base: str  # the analyzer id it was fitted on
    weights: dict[str, tuple[list, list]]  # lang -> (coef [labels x features], intercept)

    def predict(self, verdict: dict) -> np.ndarray | None:
        """P(label) over LABELS, or None for a language the layer has no model for."""
        fitted = self.weights.get(lang_of(verdict))
        if fitted is None:
            return None
        coef, intercept = np.asarray(fitted[0]), np.asarray(fitted[1])
        logits = coef @ features(verdict) + intercept
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    def label(self, verdict: dict) -> str:
        probs = self.predict(verdict)
        return model_output(verdict)["label"] if probs is None else LABELS[int(probs.argmax())]

    def apply(self, verdict: Verdict) -> Verdict:
        """The verdict with the layer's label; the model's own fields kept in evidence."""
        probs = self.predict({**verdict.to_dict(), "evidence": verdict.evidence})
        analyzer = f"{self.base}+learned.{self.version}"
        model = {k: getattr(verdict, k) for k in ("label", "sentiment", "sarcasm",
                                                  "sarcasm_score", "confidence",
                                                  "explanation")}
        evidence = {**verdict.evidence, "learned": {"version": self.version, "model": model}}
        if probs is None:
            return replace(verdict, analyzer=analyzer, evidence=evidence)
        label = LABELS[int(probs.argmax())]
        explanation = verdict.explanation
        if label != verdict.label:
            explanation += (f" (This deployment's reviewers taught it to read such posts as "
                            f"{label}; the model alone said {verdict.label}.)")
        return replace(verdict, label=label,
                       sentiment="negative" if label == "sarcastic" else label,
                       sarcasm=label == "sarcastic",
                       sarcasm_score=round(float(probs[LABELS.index("sarcastic")]), 4),
                       confidence=round(float(probs.max()), 4), explanation=explanation,
                       analyzer=analyzer, evidence=evidence)

    def to_json(self) -> dict:
        return {"version": self.version, "base": self.base, "labels": list(LABELS),
                "weights": {k: [list(map(list, c)), list(b)] for k, (c, b) in
                            self.weights.items()}}

    @classmethod
    def from_json(cls, data: dict) -> Layer:
        if data.get("labels") != list(LABELS):
            raise ValueError("the layer was fitted for other labels")
        return cls(version=data["version"], base=data["base"],
                   weights={k: (c, b) for k, (c, b) in data["weights"].items()})


class LearnedAnalyzer:
    """The base analyzer with the installed layer on its verdicts."""

    def __init__(self, base, layer: Layer):
        self.base, self.layer = base, layer
        self.name = base.name
        self.version = f"{base.version}+learned.{layer.version}"

    def analyze(self, items: Sequence[Item]) -> list[Verdict]:
        return [self.layer.apply(v) for v in self.base.analyze(items)]

    def describe(self) -> dict:
        info = self.base.describe() if hasattr(self.base, "describe") else {}
        return {**info, "learned": f"correction layer {self.layer.version}"}

    def close(self) -> None:
        getattr(self.base, "close", lambda: None)()


# -- where layers live: <data_dir>/learned/ -----------------------------------------------------

def _state_path(data_dir: Path) -> Path:
    return Path(data_dir) / FOLDER / "state.json"


def _state(data_dir: Path) -> dict:
    path = _state_path(data_dir)
    return json.loads(path.read_text()) if path.exists() else {"installed": [], "attempts": 0}


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)  # atomic: a crash never leaves half a state


def current_layer(data_dir: Path) -> Layer | None:
    installed = _state(data_dir)["installed"]
    if not installed:
        return None
    path = Path(data_dir) / FOLDER / f"layer-{installed[-1]}.json"
    return Layer.from_json(json.loads(path.read_text()))


def wrap(analyzer, data_dir: Path):
    """`analyzer` with the deployment's installed layer, when there is one for it."""
    from analysis.base import analyzer_id

    try:
        layer = current_layer(data_dir)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring the learned layer in %s: %s", data_dir, exc)
        return analyzer
    if layer is None:
        return analyzer
    if layer.base != analyzer_id(analyzer):
        log.warning("the learned layer %d was fitted on %s, not %s: ignored (run `learn` "
                    "again)", layer.version, layer.base, analyzer_id(analyzer))
        return analyzer
    return LearnedAnalyzer(analyzer, layer)


# -- fitting and the gate ------------------------------------------------------------------------

@dataclass(frozen=True)
class Example:
    verdict: dict  # a verdict dict (label, sarcasm_score, confidence, emotions, evidence)
    gold: str
    key: str = ""  # the post id: decides the held-out split


def held_out(key: str) -> bool:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 1000 < HOLDOUT * 1000


def fit(examples: list[Example], anchor: list[Example], version: int, base: str) -> Layer:
    """Per language: logistic regression on the reviews plus the dev anchor, weighted so
    the anchor counts as much as the reviews."""
    from sklearn.linear_model import LogisticRegression

    weights = {}
    for lang in ("en", "zh"):
        mine = [e for e in examples if lang_of(e.verdict) == lang]
        theirs = [e for e in anchor if lang_of(e.verdict) == lang]
        rows = mine + theirs
        if not mine or len({e.gold for e in rows}) < 2:
            continue
        x = np.stack([features(e.verdict) for e in rows])
        y = np.array([LABELS.index(e.gold) for e in rows])
        w = np.r_[np.ones(len(mine)), np.full(len(theirs), len(mine) / max(1, len(theirs)))]
        model = LogisticRegression(C=C, max_iter=2000).fit(x, y, sample_weight=w)
        coef = np.zeros((len(LABELS), x.shape[1]))
        intercept = np.full(len(LABELS), -30.0)  # a class never seen is never predicted
        rows_of = [int(c) for c in model.classes_]
        if len(rows_of) == 2:  # binary: sklearn keeps one row, for the second class
            coef[rows_of[1]], intercept[rows_of[1]] = model.coef_[0], model.intercept_[0]
            intercept[rows_of[0]] = 0.0
        else:
            for i, c in enumerate(rows_of):
                coef[c], intercept[c] = model.coef_[i], model.intercept_[i]
        weights[lang] = (coef.round(6).tolist(), intercept.round(6).tolist())
    return Layer(version=version, base=base, weights=weights)


def accuracy(examples: list[Example], layer: Layer | None) -> float | None:
    if not examples:
        return None
    right = sum((layer.label(e.verdict) if layer else model_output(e.verdict)["label"])
                == e.gold for e in examples)
    return round(right / len(examples), 4)


def dev_sample(path: Path = DEV_SAMPLE) -> tuple[list[Example], list[Example], str | None]:
    """The shipped dev verdicts, split in two: the anchor mixed into fitting, and the gate."""
    if not path.exists():
        return [], [], None
    data = json.loads(path.read_text())
    items = [Example(verdict=i["verdict"], gold=i["gold"], key=str(n))
             for n, i in enumerate(data["items"])]
    return items[0::2], items[1::2], data.get("analyzer")


@dataclass
class Report:
    version: int
    installed: bool
    reason: str
    base: str
    reviewed_fit: int
    reviewed_held_out: int
    dev_gate: int
    current: dict
    candidate: dict
    created_at: str

    def lines(self) -> str:
        return (f"candidate layer {self.version} on {self.base}: "
                f"{'INSTALLED' if self.installed else 'refused'} ({self.reason})\n"
                f"  reviewed posts: {self.reviewed_fit} to fit, {self.reviewed_held_out} held out"
                f"; dev gate items: {self.dev_gate}\n"
                f"  held-out reviewed accuracy: current {self.current['reviewed']}, "
                f"candidate {self.candidate['reviewed']}\n"
                f"  dev accuracy: current {self.current['dev']}, candidate "
                f"{self.candidate['dev']} (may lose at most {MARGIN})")


def learn(data_dir: Path, base: str, reviewed: list[Example], margin: float = MARGIN,
          dev: tuple[list[Example], list[Example], str | None] | None = None) -> Report:
    """Fit a candidate, gate it, install it when it passes; always write its report."""
    anchor, gate, dev_base = dev if dev is not None else dev_sample()
    if dev_base and dev_base != base:
        log.warning("the shipped dev sample was made with %s, not %s", dev_base, base)
    state = _state(data_dir)
    version = state["attempts"] + 1
    current = current_layer(data_dir)
    current = current if current is not None and current.base == base else None
    fitting = [e for e in reviewed if not held_out(e.key)]
    judging = [e for e in reviewed if held_out(e.key)]
    candidate = fit(fitting, anchor, version, base) if fitting else None
    scores = {"current": {"reviewed": accuracy(judging, current), "dev": accuracy(gate, current)},
              "candidate": {"reviewed": accuracy(judging, candidate) if candidate else None,
                            "dev": accuracy(gate, candidate) if candidate else None}}
    installed, reason = _gate(scores, len(judging), bool(gate), margin)
    report = Report(version=version, installed=installed, reason=reason, base=base,
                    reviewed_fit=len(fitting), reviewed_held_out=len(judging),
                    dev_gate=len(gate), created_at=datetime.now(UTC).isoformat(), **scores)
    folder = Path(data_dir) / FOLDER
    _write(folder / f"report-{version}.json", report.__dict__)
    state["attempts"] = version
    if installed:
        _write(folder / f"layer-{version}.json", candidate.to_json())
        state["installed"].append(version)
    _write(_state_path(data_dir), state)
    return report


def _gate(scores: dict, judged: int, has_dev: bool, margin: float) -> tuple[bool, str]:
    now, new = scores["current"], scores["candidate"]
    if judged < MIN_HOLDOUT:
        return False, f"only {judged} held-out reviewed posts; {MIN_HOLDOUT} needed"
    if not has_dev:
        return False, "no dev sample to check the candidate against"
    if new["reviewed"] is None or new["reviewed"] <= now["reviewed"]:
        return False, "not better than the current model on the held-out reviewed posts"
    if new["dev"] < now["dev"] - margin:
        return False, f"worse than the current model on the dev sample by more than {margin}"
    return True, "better on held-out reviewed posts, not worse on the dev sample"


def rollback(data_dir: Path) -> int | None:
    """Uninstall the newest layer; the version now in force (None: the shipped model)."""
    state = _state(data_dir)
    if not state["installed"]:
        raise ValueError("no learned layer is installed")
    state["installed"].pop()
    _write(_state_path(data_dir), state)
    return state["installed"][-1] if state["installed"] else None


# -- the shipped dev sample ---------------------------------------------------------------------

def build_dev_sample(out: Path = DEV_SAMPLE, per_set: int = 120) -> int:
    """Run the shipped analyzer on public dev sets and keep its verdicts' numbers and the gold
    labels (no text). Reads SUBTEXT_SHARED_DATA (analysis/datasets.py)."""
    from analysis.base import analyzer_id
    from analysis.datasets import data_dir as data_root
    from analysis.lite import LiteAnalyzer

    root = data_root()
    rows: list[tuple[str, str, str]] = []  # text, lang, gold
    sentiment = (root / "tweeteval/sentiment/val_text.txt").read_text().splitlines()
    gold = (root / "tweeteval/sentiment/val_labels.txt").read_text().split()
    names = ["negative", "neutral", "positive"]
    rows += [(t, "en", names[int(g)]) for t, g in zip(sentiment, gold, strict=False)][:per_set]
    irony = (root / "tweeteval/irony/val_text.txt").read_text().splitlines()
    ironic = (root / "tweeteval/irony/val_labels.txt").read_text().split()
    rows += [(t, "en", "sarcastic") for t, g in zip(irony, ironic, strict=False)
             if g == "1"][: per_set // 2]
    emotions = {"happy": "positive", "angry": "negative", "sad": "negative",
                "fear": "negative", "neutral": "neutral"}
    weibo = [json.loads(line) for line in (root / "smp2020_ewect/usual_dev.jsonl").open()]
    rows += [(r["text"], "zh", emotions[r["label"]]) for r in weibo
             if r["label"] in emotions][:per_set]
    sarcasm = [json.loads(line) for line in (root / "tosarcasm/dev.jsonl").open()]
    rows += [(r["text"], "zh", "sarcastic") for r in sarcasm if r["label"] == 1][: per_set // 2]
    analyzer = LiteAnalyzer()
    items = []
    for start in range(0, len(rows), 32):
        chunk = rows[start:start + 32]
        verdicts = analyzer.analyze([Item(text=t, lang=lang) for t, lang, _ in chunk])
        for (_, _, label), v in zip(chunk, verdicts, strict=True):
            evidence = {k: v.evidence.get(k) for k in ("polarity", "incongruity",
                                                        "text_sarcasm", "lang")}
            items.append({"gold": label, "verdict": {
                "label": v.label, "sarcasm_score": v.sarcasm_score,
                "confidence": v.confidence, "emotions": v.emotions, "evidence": evidence}})
    out.write_text(json.dumps({"analyzer": analyzer_id(analyzer), "items": items},
                              separators=(",", ":")))
    return len(items)


if __name__ == "__main__":
    print(f"wrote {build_dev_sample()} items to {DEV_SAMPLE}")

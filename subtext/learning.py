"""`python -m subtext learn` and `learn --rollback`: the review loop's learning step, between
the store (reviewed posts, verdicts) and analysis/learn.py (the correction layer).

Installing or rolling back a layer re-stamps every post's latest verdict from the base
analyzer's own outputs (kept in each layered verdict's evidence), so the views switch at once
and no post is analyzed again; older verdicts stay as history.
"""

from __future__ import annotations

from pathlib import Path

from analysis import learn
from analysis.verdict import Verdict
from data import feedback
from data.store import Pending, Store

CHUNK = 5000


def examples(store: Store) -> list[learn.Example]:
    return [learn.Example(verdict=row, gold=row["gold"], key=row["id"])
            for row in feedback.reviewed_examples(store)]


def run(store: Store, data_dir: Path, base: str, margin: float = learn.MARGIN,
        dev=None) -> learn.Report:
    report = learn.learn(data_dir, base, examples(store), margin, dev)
    if report.installed:
        restamp(store, base, learn.current_layer(data_dir))
    return report


def rollback(store: Store, data_dir: Path, base: str) -> str:
    """Back to the previous layer (or the shipped model); the analyzer id now in force."""
    version = learn.rollback(data_dir)
    layer = learn.current_layer(data_dir)
    restamp(store, base, layer if layer is not None and layer.base == base else None)
    return base if version is None else f"{base}+learned.{version}"


def restamp(store: Store, base: str, layer: learn.Layer | None) -> int:
    """Write each post's verdict as `layer` (None: the base analyzer) gives it."""
    batch: list[tuple[Pending, Verdict]] = []
    done = 0
    for row in feedback.verdicts_of(store, base):
        verdict = _model_verdict(row, base)
        if layer is not None:
            verdict = layer.apply(verdict)
        batch.append((Pending(id=row["post_id"], text="", lang=None, image_path=None,
                              content_hash=row["content_hash"]), verdict))
        if len(batch) >= CHUNK:
            store.save_verdicts(batch)
            done, batch = done + len(batch), []
    if batch:
        store.save_verdicts(batch)
    return done + len(batch)


def _model_verdict(row: dict, base: str) -> Verdict:
    raw = learn.model_output(row)
    evidence = {k: v for k, v in (row["evidence"] or {}).items() if k != "learned"}
    return Verdict(label=raw["label"], sentiment=raw["sentiment"], sarcasm=raw["sarcasm"],
                   sarcasm_score=raw["sarcasm_score"], emotion=row["emotion"],
                   emotions=row["emotions"] or {}, confidence=raw["confidence"],
                   explanation=raw["explanation"] or "", analyzer=base,
                   latency_ms=row["latency_ms"] or 0.0, evidence=evidence)


"""Learning from reviewers: the gate installs a layer that fixes a local blind spot, refuses a
poisoned one, and rollback restores the previous verdicts' version, through a real DuckDB
store and the `learn` command's code path."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from analysis import learn
from analysis.verdict import EMOTIONS, LABELS, Verdict
from collectors.post import Post
from data import feedback, queries
from data.store import Pending
from subtext import learning

BASE = "lite@1.1"


def verdict(label: str, sarcasm_score: float, rng: random.Random, text_pol: float) -> dict:
    emotions = {e: rng.random() for e in EMOTIONS}
    total = sum(emotions.values())
    return {"label": label, "sentiment": "negative" if label == "sarcastic" else label,
            "sarcasm": label == "sarcastic", "sarcasm_score": sarcasm_score,
            "confidence": round(rng.uniform(0.4, 0.9), 3), "emotion": "neutral",
            "emotions": {e: v / total for e, v in emotions.items()}, "explanation": "x",
            "latency_ms": 1.0,
            "evidence": {"polarity": {"text": text_pol, "caption": None, "faces": None},
                         "incongruity": 0.0, "text_sarcasm": sarcasm_score, "lang": "en"}}


def ordinary(rng: random.Random) -> tuple[dict, str]:
    """What the model gets right: its label is the reviewers' label."""
    label = rng.choice(LABELS)
    score = rng.uniform(0.6, 0.95) if label == "sarcastic" else rng.uniform(0.0, 0.2)
    pol = {"positive": 0.7, "negative": -0.7, "neutral": 0.0, "sarcastic": 0.6}[label]
    return verdict(label, round(score, 3), rng, pol + rng.uniform(-0.2, 0.2)), label


def local_meme(rng: random.Random) -> tuple[dict, str]:
    """The deployment's blind spot: praise with a middling sarcasm score, which the model calls
    positive and this audience means as mockery."""
    return verdict("positive", round(rng.uniform(0.35, 0.5), 3), rng, 0.8), "sarcastic"


def dev(n: int = 200, seed: int = 1):
    rng = random.Random(seed)
    items = [learn.Example(*ordinary(rng), key=str(i)) for i in range(n)]
    return items[0::2], items[1::2], BASE


def reviewed(n: int, seed: int, poisoned: bool = False) -> list[learn.Example]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        v, gold = local_meme(rng) if i % 2 else ordinary(rng)
        if poisoned:  # every label flipped to another one
            v, gold = ordinary(rng)
            gold = LABELS[(LABELS.index(gold) + 1) % len(LABELS)]
        out.append(learn.Example(v, gold, key=f"post-{seed}-{i}"))
    return out


def test_a_small_feedback_set_improves_the_held_out_score(tmp_path):
    report = learn.learn(tmp_path, BASE, reviewed(120, seed=2), dev=dev())
    assert report.installed, report.reason
    assert report.candidate["reviewed"] > report.current["reviewed"] + 0.2
    assert report.candidate["dev"] >= report.current["dev"] - learn.MARGIN
    assert (tmp_path / "learned" / "report-1.json").exists()
    layer = learn.current_layer(tmp_path)
    assert layer.version == 1 and layer.base == BASE
    meme, _ = local_meme(random.Random(9))
    assert layer.label(meme) == "sarcastic"


def test_a_poisoned_feedback_set_is_refused(tmp_path):
    report = learn.learn(tmp_path, BASE, reviewed(120, seed=3, poisoned=True), dev=dev())
    assert not report.installed
    assert "dev sample" in report.reason
    assert report.candidate["dev"] < report.current["dev"] - learn.MARGIN
    assert learn.current_layer(tmp_path) is None
    assert (tmp_path / "learned" / "report-1.json").exists()  # the refusal is reported


def test_too_few_reviews_are_refused(tmp_path):
    report = learn.learn(tmp_path, BASE, reviewed(8, seed=4), dev=dev())
    assert not report.installed and "held-out" in report.reason


def add_posts(store, rows: list[learn.Example]) -> None:
    now = datetime.now(UTC)
    store.save_posts([(Post(source="t", native_id=e.key, text="Nimbus " + e.key,
                            created_at=now, brands=["Nimbus"]), []) for e in rows])
    hashes = dict(store.reader().execute("SELECT id, content_hash FROM posts").fetchall())
    store.save_verdicts([
        (Pending(id=f"t:{e.key}", text="", lang="en", image_path=None,
                 content_hash=hashes[f"t:{e.key}"]),
         Verdict(analyzer=BASE, **{k: v for k, v in e.verdict.items()}))
        for e in rows])


def test_learn_stamps_verdicts_and_rollback_restores_the_previous_version(store, tmp_path):
    rows = reviewed(120, seed=5)
    add_posts(store, rows)
    for e in rows:  # the reviewers' labels, through the same code as the API
        feedback.record(store, f"t:{e.key}", feedback.Correction(label=e.gold), "rev")
    meme = next(f"t:{e.key}" for e in rows if e.gold == "sarcastic"
                and e.verdict["label"] == "positive")
    data_dir = tmp_path / "data"
    report = learning.run(store, data_dir, BASE, dev=dev())
    assert report.installed, report.reason
    shown = queries.get_post(store, meme)
    assert shown["analyzer"] == f"{BASE}+learned.1"
    assert shown["model_label"] == "sarcastic"  # the layer's reading, now the model's
    assert shown["evidence"]["learned"]["model"]["label"] == "positive"  # the shipped model's
    assert shown["label"] == "sarcastic"  # the reviewer's label still on top
    history = store.reader().execute("SELECT count(*) FROM verdicts WHERE post_id = ?",
                                     [meme]).fetchone()[0]
    assert history == 2  # the base verdict is kept as history

    # A second, refused attempt changes nothing; rollback returns to the base.
    assert not learning.run(store, data_dir, BASE, dev=([], [], BASE)).installed
    assert learning.rollback(store, data_dir, BASE) == BASE
    shown = queries.get_post(store, meme)
    assert shown["analyzer"] == BASE and shown["model_label"] == "positive"
    assert "learned" not in shown["evidence"]
    with pytest.raises(ValueError, match="no learned layer"):
        learning.rollback(store, data_dir, BASE)


class Base:
    name, version = "lite", "1.1"

    def analyze(self, items):
        return [Verdict(analyzer=BASE, **{k: v for k, v in local_meme(random.Random(0))[0]
                                         .items()}) for _ in items]


def test_the_engine_wraps_its_analyzer_with_the_installed_layer(tmp_path):
    assert learn.wrap(Base(), tmp_path).version == "1.1"  # nothing installed
    assert learn.learn(tmp_path, BASE, reviewed(120, seed=2), dev=dev()).installed
    wrapped = learn.wrap(Base(), tmp_path)
    assert wrapped.version == "1.1+learned.1"
    out = wrapped.analyze([None])[0]
    assert out.label == "sarcastic" and out.analyzer == f"{BASE}+learned.1"
    assert out.evidence["learned"]["model"]["label"] == "positive"
    other = Base()
    other.version = "2.0"  # an upgraded base: the layer was not fitted on it
    assert learn.wrap(other, tmp_path) is other


def test_the_shipped_dev_sample_refuses_poisoned_reviews_of_real_verdicts(tmp_path):
    """The analyzer's real verdicts on public dev posts (analysis/learn_dev_sample.json),
    reviewed with every label flipped: the gate's dev half catches it."""
    anchor, gate, base = learn.dev_sample()
    assert len(gate) >= 100 and base.startswith("lite@")
    flipped = [learn.Example(e.verdict, LABELS[(LABELS.index(e.gold) + 1) % len(LABELS)],
                             key=f"p{i}") for i, e in enumerate(anchor)]
    report = learn.learn(tmp_path, base, flipped)
    assert not report.installed and "dev sample" in report.reason
    honest = [learn.Example(e.verdict, e.gold, key=f"p{i}") for i, e in enumerate(anchor)]
    assert learn.learn(tmp_path, base, honest).installed


def test_learn_command_reports_and_refuses_without_reviews(config_file, config, capsys):
    from subtext import cli

    assert cli.main(["learn", "--config", str(config_file)]) == 1
    out = capsys.readouterr().out
    assert "refused (only 0 held-out reviewed posts" in out and "report-1.json" in out
    assert cli.main(["learn", "--rollback", "--config", str(config_file)]) == 1
    assert "no learned layer is installed" in capsys.readouterr().err

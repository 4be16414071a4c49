"""The training script, on a tiny sample of the shared data, writes artifacts that load."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import datasets
from analysis.heads import CONFIG_FILE, WEIGHTS_FILE, TextModel
from analysis.tuned import ARTIFACT

REPO = Path(__file__).resolve().parent.parent

needs_data = pytest.mark.skipif(
    not datasets.available(),
    reason=f"shared training data not found at {datasets.data_dir()} (SUBTEXT_SHARED_DATA)")


@needs_data
def test_tiny_training_run_writes_loadable_artifacts(tmp_path):
    out = tmp_path / "artifacts"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}  # sklearn's convergence chatter on 20 rows
    run = subprocess.run([sys.executable, "-m", "analysis.train", "--sample", "20", "--out",
                          str(out)], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=280)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "TweetEval irony (val)" in run.stdout  # the dev figures table is printed
    assert {p.name for p in out.iterdir()} == {WEIGHTS_FILE, CONFIG_FILE, "PROVENANCE.json",
                                              ARTIFACT}

    provenance = json.loads((out / "PROVENANCE.json").read_text())
    assert provenance["sample"] == 20 and provenance["seed"]
    assert {row["set"] for row in provenance["dev_figures"]} >= {"ToSarcasm (dev)",
                                                                   "SMP2020 virus_dev"}
    assert provenance["packages"]["numpy"]

    model = TextModel.load(out)
    scores = model.predict(["I love it", "太差了"], ["en", "zh"], embed="always")
    assert [s.lang for s in scores] == ["en", "zh"]
    assert all(abs(sum(s.sentiment.values()) - 1) < 1e-3 for s in scores)

    # A refit of one task keeps every other task's heads exactly and says so.
    import numpy as np

    before = dict(np.load(out / WEIGHTS_FILE))
    columns = json.loads((out / CONFIG_FILE).read_text())["columns"]
    (out / "gate.json").write_text("{}")  # a gate fitted to the heads being replaced
    refit = subprocess.run([sys.executable, "-m", "analysis.train", "--sample", "20", "--out",
                            str(out), "--tasks", "sarcasm"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=280)
    assert refit.returncode == 0, refit.stderr[-3000:]
    after = dict(np.load(out / WEIGHTS_FILE))
    kept = np.r_[slice(*columns["sentiment"]), slice(*columns["emotion"])]
    for name, array in before.items():
        assert np.array_equal(array[..., kept], after[name][..., kept]), name
    refitted = json.loads((out / "PROVENANCE.json").read_text())["refit"]
    assert refitted["tasks"] == ["sarcasm"] and refitted["kept"] == ["sentiment", "emotion"]
    assert "met_meme-zh" in refitted["kept_corpora"]  # no sarcasm corpus: not re-read
    assert not (out / "gate.json").exists()  # stale once the heads change: the smoke test drops it


def test_missing_data_dir_is_a_clear_error(tmp_path):
    env = {**os.environ, "SUBTEXT_SHARED_DATA": str(tmp_path / "nowhere")}
    run = subprocess.run([sys.executable, "-m", "analysis.train", "--sample", "5", "--out",
                          str(tmp_path / "out")], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2
    assert "shared data not found" in run.stderr
    assert not (tmp_path / "out").exists()


def test_loading_artifacts_of_other_features_fails_clearly(tmp_path):
    from analysis.heads import ARTIFACTS

    for name in (WEIGHTS_FILE, CONFIG_FILE):
        (tmp_path / name).write_bytes((ARTIFACTS / name).read_bytes())
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    config["dense_features"] = config["dense_features"][:-1]
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="retrain"):
        TextModel.load(tmp_path)


def test_sarcasm_classes_balance_within_each_language():
    """A sincere-only Chinese corpus must not take class weight from the English rows."""
    import numpy as np

    from analysis.train import balanced_weights

    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    sources = ["en-irony"] * 4 + ["zh-sarcasm"] * 2 + ["zh-reviews"] * 4
    langs = ["en"] * 4 + ["zh"] * 6
    w = balanced_weights(y, sources, langs)
    en, zh = np.arange(4), np.arange(4, 10)
    for rows in (en, zh):
        assert w[rows][y[rows] == 1].sum() == pytest.approx(w[rows][y[rows] == 0].sum())
    assert w[en].sum() == pytest.approx(4) and w[zh].sum() == pytest.approx(6)
    # one group: the classes balance over all rows, as for the other tasks
    pooled = balanced_weights(y, sources)
    assert pooled[y == 1].sum() == pytest.approx(pooled[y == 0].sum())
    assert pooled[en][y[en] == 0].sum() < w[en][y[en] == 0].sum()  # what grouping prevents


def test_artifacts_that_fail_their_check_never_replace_the_shipped_ones(tmp_path):
    from analysis.train import ARTIFACT_FILES, publish

    out = tmp_path / "artifacts"
    out.mkdir()
    for name in ARTIFACT_FILES:
        (out / name).write_text("shipped")

    def write(folder):
        for name in ARTIFACT_FILES:
            (folder / name).write_text("new")

    def failing(folder):
        assert (folder / ARTIFACT_FILES[0]).read_text() == "new"  # checked where written
        raise AssertionError("exported heads differ")

    with pytest.raises(AssertionError, match="differ"):
        publish(out, write, failing)
    assert all((out / n).read_text() == "shipped" for n in ARTIFACT_FILES)
    assert publish(out, write, lambda folder: "ok") == "ok"
    assert all((out / n).read_text() == "new" for n in ARTIFACT_FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifacts"]  # no staging left

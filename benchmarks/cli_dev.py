"""Dev figures of what users get: `python -m subtext analyze` verdicts on held-out dev rows,
beside the char-n-gram logistic regression on the same rows.

    nice python -m benchmarks.cli_dev --per-set 200 [--repo DIR] [--embed auto] [--tag new]

For each dev set of analysis/train.py (the held-out parts only: no shipped model trains on
them) a seeded sample of rows is written as the README's batch JSONL ({"id","text","lang"}),
analyzed by the CLI of `--repo` (another checkout, e.g. an older version, to compare), and
scored from the output lines: sarcasm = label "sarcastic" or the sarcasm flag; sentiment and
emotion = the labels users see. The false-sarcasm rate on sincere positives (TweetEval sentiment
held-out positives, ChnSentiCorp held-out positives) is reported beside. Results go to
var/cli_dev/<tag>.json; `--report TAG,TAG` prints them side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from analysis import datasets as D
from analysis import e5tune as E
from analysis import train as T

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "var" / "cli_dev"
POSITIVES = {"TweetEval sentiment positives (held-out)": "tweeteval-sentiment-val",
             "ChnSentiCorp positives (held-out)": "chnsenticorp-heldout"}
EMOTION_MAP = {"optimism": "joy"}  # TweetEval emotion's fourth class, as train.py reads it


def sample_rows(corpora, per_set: int) -> dict[str, list[int]]:
    """Seeded rows of each dev set (of the held-out part where a set also trains)."""
    rng = np.random.default_rng(T.SEED)
    out, allowed = {}, {}
    for dev, rows in E.dev_sets(corpora):
        allowed[dev.corpus] = rows
        pick = rng.choice(len(rows), min(per_set, len(rows)), replace=False)
        out[dev.name] = sorted(rows[k] for k in pick)
    for name, corpus in POSITIVES.items():
        split, rows = corpora[corpus].split, allowed[corpus]
        pos = [k for k, i in enumerate(rows) if split.labels[i] == "positive"]
        pick = rng.choice(pos, min(per_set, len(pos)), replace=False)
        out[name] = sorted(rows[k] for k in pick)
    return out


def dev_sets(corpora) -> list:
    return [d for d, _ in E.dev_sets(corpora)]


def corpus_of(name: str, corpora) -> str:
    return POSITIVES.get(name) or next(d.corpus for d in dev_sets(corpora) if d.name == name)


def run_cli(repo: Path, corpora, rows: dict[str, list[int]], embed: str | None,
            encoder: str | None = None) -> tuple:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        with src.open("w", encoding="utf-8") as f:
            for name, idx in rows.items():
                split = corpora[corpus_of(name, corpora)].split
                for i in idx:
                    f.write(json.dumps({"id": f"{name}|{i}", "text": split.texts[i],
                                        "lang": split.lang}, ensure_ascii=False) + "\n")
        cmd = [sys.executable, "-m", "subtext", "analyze", str(src), "--out", str(dst)]
        env = dict(os.environ)
        if embed or encoder:
            cfg = Path(tmp) / "subtext.toml"
            cfg.write_text("[analysis]\n" + (f'embed = "{embed}"\n' if embed else "")
                           + (f'text_encoder = "{encoder}"\n' if encoder else ""))
            cmd[3:3] = ["--config", str(cfg)]
        start, load = time.perf_counter(), os.getloadavg()[0]
        run = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if run.returncode not in (0, 1):
            raise SystemExit(run.stderr[-3000:])
        verdicts = {}
        for line in dst.read_text(encoding="utf-8").splitlines():
            v = json.loads(line)
            verdicts[v["id"]] = v
    return verdicts, seconds, load


def predicted(task: str, v: dict):
    if "error" in v:
        return None
    if task == "sarcasm":
        return int(v.get("label") == "sarcastic" or bool(v.get("sarcasm")))
    if task == "sentiment":
        return v.get("sentiment")
    return v.get("emotion")


def score_all(corpora, rows, verdicts) -> dict:
    out = {}
    for dev in dev_sets(corpora):
        split = corpora[dev.corpus].split
        idx = rows[dev.name]
        truth = [EMOTION_MAP.get(split.labels[i], split.labels[i]) if dev.task == "emotion"
                 else split.labels[i] for i in idx]
        pred = [predicted(dev.task, verdicts[f"{dev.name}|{i}"]) for i in idx]
        out[dev.name] = round(T.score(dev.metric, truth, pred), 4)
    for name in POSITIVES:
        flags = [predicted("sarcasm", verdicts[f"{name}|{i}"]) for i in rows[name]]
        out[name] = round(float(np.mean(flags)), 4)
    return out


def baseline(corpora, rows) -> dict:
    """The char 1–3-gram TF-IDF logistic regression of benchmarks/quality.py, trained on the
    rows our heads train on, predicted on the same sampled rows."""
    from benchmarks.quality import _fit_predict, char_ngrams

    out = {}
    for dev in dev_sets(corpora):
        split = corpora[dev.corpus].split
        idx = rows[dev.name]
        held = E.held_rows(split) if dev.corpus in E.HELD else None
        pred = _fit_predict(dev, corpora, char_ngrams, held, rows=np.array(idx))
        truth = [split.labels[i] for i in idx]
        out[dev.name] = round(T.score(dev.metric, truth, pred), 4)
    for name, corpus in POSITIVES.items():
        fake = T.DevSet(name, "sarcasm", corpus, "acc", (0, 1))
        held = E.held_rows(corpora[corpus].split) if corpus in E.HELD else None
        pred = _fit_predict(fake, corpora, char_ngrams, held, rows=np.array(rows[name]))
        out[name] = round(float(np.mean(pred)), 4)
    return out


def report(tags: list[str]) -> None:
    results = {t: json.loads((OUT / f"{t}.json").read_text()) for t in tags}
    names = list(next(iter(results.values()))["scores"])
    metrics = {d.name: (d.metric, d.target) for d in T.DEV_SETS} | {
        f"{E.HELD[d.corpus]}held-out 20%)": (d.metric, d.target) for d in T.DEV_SETS
        if d.corpus in E.HELD}
    print(f"{'set':44} {'metric':12} {'target':>6} " + " ".join(f"{t:>9}" for t in tags))
    for name in names:
        metric, target = metrics.get(name, ("false sarc.", 0.10))
        print(f"{name:44} {metric:12} {target:6.2f} "
              + " ".join(f"{results[t]['scores'].get(name, float('nan')):9.4f}" for t in tags))
    for t, r in results.items():
        if "seconds" in r:
            print(f"{t}: {r['posts']} posts in {r['seconds']:.0f}s through the CLI "
                  f"({r['posts'] / r['seconds']:.1f} posts/s incl. loading; load avg "
                  f"{r['load']:.1f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-set", type=int, default=200)
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--embed", default=None, help="analysis.embed for the run")
    parser.add_argument("--text-encoder", default=None, help="analysis.text_encoder")
    parser.add_argument("--tag", default="new")
    parser.add_argument("--baseline", action="store_true", help="score the char LR instead")
    parser.add_argument("--report", default=None, help="print TAG,TAG side by side")
    args = parser.parse_args(argv)
    if args.report:
        report(args.report.split(","))
        return 0
    if not D.available():
        print(f"shared data not found at {D.data_dir()}", file=sys.stderr)
        return 2
    corpora = T.load_corpora(None)
    rows = sample_rows(corpora, args.per_set)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.baseline:
        result = {"scores": baseline(corpora, rows)}
    else:
        verdicts, seconds, load = run_cli(args.repo, corpora, rows, args.embed,
                                          args.text_encoder)
        result = {"scores": score_all(corpora, rows, verdicts), "seconds": round(seconds, 1),
                  "posts": len(verdicts), "load": load, "repo": str(args.repo),
                  "embed": args.embed, "text_encoder": args.text_encoder}
    (OUT / f"{args.tag}.json").write_text(json.dumps(result, indent=1) + "\n")
    report([args.tag])
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fine-tune the multilingual encoder of `analysis/e5tuned.py` (LoRA on multilingual-e5-small)
and weigh it against the n-gram head: the opt-in `analysis.text_encoder = "e5"` model.

    python -m analysis.e5tune --out analysis/artifacts/e5            # tune, then weigh
    python -m analysis.e5tune --out DIR --max-seconds 2580           # a time-boxed tune
    python -m analysis.e5tune --out DIR --weigh-only --dev-cap 60    # reuse DIR's encoder
    python -m analysis.e5tune --sample 60 --out DIR                  # a smoke run

One encoder, three heads trained together on train.py's sources, English and Chinese, plus
CM-Off-Meme for sentiment:

- sarcasm: TweetEval irony train, MMSD2.0 train, ToSarcasm train;
- sentiment: TweetEval sentiment (training part), ChnSentiCorp (training part), SMP2020 as
  polarity, CM-Off-Meme;
- emotion: TweetEval emotion train, SMP2020 virus_train and usual (training part), MET-Meme.

TweetEval sentiment (val only here) and SMP2020 usual (dev only) must also train: a stratified,
seeded 20% of each (`held_rows`) is kept from the encoder, and its dev figures are on that part.

Rows are sampled with train.py's weights (classes weigh the same; a corpus weighs with the
square root of its size). Steps cycle through TASK_CYCLE; each task's rows are drawn in pools
of POOL batches, sorted by token length and cut into batches (length buckets: little padding).
Everything is seeded; the artefact is rewritten every CHECKPOINT steps, so an interrupted run
still leaves a usable encoder.

The weighing keeps the committed n-gram head (`analysis/artifacts`: it was trained on all of
the two dev splits above, so they choose no weight and their figures are marked) and picks,
per task and language, the weight of the encoder's logits and a temperature on the dev sets.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from analysis import datasets as D
from analysis import e5tuned as T
from analysis import heads
from analysis import train as TR
from analysis.cues import find_cues

SEED = 13
STEPS = 1600  # the committed encoder (artifacts/e5/PROVENANCE.json): 17 min on two quiet cores
BATCH = 32
POOL = 8  # batches drawn at once per task, then bucketed by length
TASK_CYCLE = ("sarcasm", "sentiment", "sarcasm", "emotion")  # sarcasm matters most to PR
LR, HEAD_LR, WARMUP, WEIGHT_DECAY = 8e-4, 3e-3, 30, 0.01
CHECKPOINT = 40
THREADS = 2


HELD = {"tweeteval-sentiment-val": "TweetEval sentiment (val, ", "smp2020-usual_dev":
        "SMP2020 usual_dev ("}  # corpus -> the start of its dev set's name in train.py
EXTRA_SOURCES = {"sentiment": [("cm_off_meme-sentiment", None)]}
SEEN_BY_FAST = "the n-gram head trained on these rows"


def held_rows(split: D.Split) -> set[int]:
    """A stratified, seeded 20% of the split: never trained on by the encoder."""
    labels = [str(v) for v in split.labels]
    if min(labels.count(v) for v in set(labels)) < 5:
        return set(np.random.default_rng(D.SPLIT_SEED).permutation(len(labels))[
            : len(labels) // 5].tolist())
    folds = StratifiedKFold(5, shuffle=True, random_state=D.SPLIT_SEED)
    return set(next(folds.split(labels, labels))[1].tolist())


def load_corpora(sample: int | None):
    corpora = TR.load_corpora(sample)
    cm = D.cm_off_meme("sentiment")
    corpora[cm.name] = TR.Corpus(cm if not sample else cm.subset(range(min(sample, len(cm)))))
    return corpora


def task_design(task: str, corpora) -> TR.Design:
    """train.py's rows for the task, less the held-out rows, plus EXTRA_SOURCES."""
    exclude = {name: held_rows(corpora[name].split) for name in HELD if name in corpora}
    base = TR.task_design(task, corpora, exclude)
    rows, y = list(base.rows), list(base.y)
    for name, _ in EXTRA_SOURCES.get(task, []):
        for i, label in enumerate(corpora[name].split.labels):
            rows.append((name, i))
            y.append(TR.TASKS[task].index(label))
    y = np.array(y, dtype=np.int64)
    return TR.Design(rows, y, TR.balanced_weights(y, [r[0] for r in rows]))


def dev_sets(corpora) -> list[tuple[TR.DevSet, list[int]]]:
    """train.py's dev sets with the rows to score: all of them, or the held-out part."""
    out = []
    for d in TR.DEV_SETS:
        rows = range(len(corpora[d.corpus].split))
        if d.corpus in HELD:
            rows = sorted(held_rows(corpora[d.corpus].split))
            d = replace(d, name=f"{HELD[d.corpus]}held-out 20%)", cv=False)
        out.append((d, list(rows)))
    return out


@dataclass
class TaskData:
    ids: list[list[int]]  # token ids of each training row
    y: np.ndarray  # class indices (sarcasm: 0/1)
    p: np.ndarray  # sampling probabilities
    sources: list[str]


def training_data(task: str, corpora, tokenizer) -> TaskData:
    """The rows of `task_design`, tokenized, with their sampling probabilities."""
    design = task_design(task, corpora)
    texts = [T.clip(corpora[name].split.texts[i]) for name, i in design.rows]
    return TaskData(tokenizer.ids(texts), design.y, design.weights / design.weights.sum(),
                    list(dict.fromkeys(name for name, _ in design.rows)))


def adapted_model(rng: np.random.Generator, base: Path | None = None):
    """The base e5 with trainable LoRA wrappers, layer norms and one head per task."""
    import torch
    from torch import nn

    class LoRALinear(nn.Module):
        def __init__(self, linear: nn.Linear):
            super().__init__()
            self.base = linear
            A, B = T.lora_init(linear.in_features, linear.out_features, rng)
            self.A, self.B = nn.Parameter(torch.from_numpy(A)), nn.Parameter(torch.from_numpy(B))

        def forward(self, x):
            return self.base(x) + (x @ self.A.T @ self.B.T) * (T.ALPHA / T.RANK)

    e5 = T.load_base(base)
    model = e5.model
    for p in model.parameters():
        p.requires_grad = False
    for layer in model.encoder.layer[T.FIRST_TUNED_LAYER:]:
        for target in T.TARGETS:
            parent, _, name = target.rpartition(".")
            holder = T.submodule(layer, parent)
            setattr(holder, name, LoRALinear(getattr(holder, name)))
        for norm in T.NORMS:
            for p in T.submodule(layer, norm).parameters():
                p.requires_grad = True
    torch.manual_seed(SEED)
    task_heads = nn.ModuleDict({task: nn.Linear(model.config.hidden_size, width)
                                for task, width in T.TASK_WIDTH.items()})
    return e5, task_heads


class Batches:
    """Length-bucketed, weighted batches of one task's rows."""

    def __init__(self, data: TaskData, rng: np.random.Generator):
        self.data, self.rng, self.queue = data, rng, []

    def next(self) -> np.ndarray:
        if not self.queue:
            size = min(BATCH, len(self.data.y))
            idx = self.rng.choice(len(self.data.y), size * POOL, p=self.data.p)
            idx = idx[np.argsort([len(self.data.ids[i]) for i in idx], kind="stable")]
            self.queue = [idx[s:s + size] for s in range(0, len(idx), size)]
            self.rng.shuffle(self.queue)
        return self.queue.pop()


def train(out: Path, sample: int | None = None, base: Path | None = None, log=print,
          steps: int | None = None, corpora=None, max_seconds: float | None = None) -> dict:
    import torch

    torch.set_num_threads(THREADS)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    corpora = corpora or load_corpora(sample)
    e5, task_heads = adapted_model(rng, base)
    data = {task: training_data(task, corpora, e5.tokenizer) for task in T.TASK_WIDTH}
    batches = {task: Batches(d, rng) for task, d in data.items()}
    params = [{"params": [q for q in e5.model.parameters() if q.requires_grad]},
              {"params": list(task_heads.parameters()), "lr": HEAD_LR}]  # heads start random
    steps = steps or (8 if sample else STEPS)
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / WARMUP) * max(0.0, 1.0 - s / steps))
    e5.model.train()
    t0, seen = time.perf_counter(), {t: 0 for t in T.TASK_WIDTH}
    out.mkdir(parents=True, exist_ok=True)
    done = steps
    for step in range(steps):
        if max_seconds and time.perf_counter() - t0 > max_seconds:
            done = step  # the time box: the schedule had not finished decaying
            log(f"  tune stopped by the {max_seconds:.0f}s time box after {step} steps")
            break
        task = TASK_CYCLE[step % len(TASK_CYCLE)]
        loss = task_loss(task, data[task], batches[task].next(), e5, task_heads)
        seen[task] += 1
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 5 == 0 or step == steps - 1:
            log(f"  tune step {step + 1}/{steps} {task} loss {loss.item():.3f} "
                f"({time.perf_counter() - t0:.0f}s)")
        if (step + 1) % CHECKPOINT == 0:
            np.savez_compressed(out / T.ARTIFACT, **export(e5.model, task_heads))
    seconds = time.perf_counter() - t0
    e5.model.eval()
    np.savez_compressed(out / T.ARTIFACT, **export(e5.model, task_heads))
    probe = [corpora[n].split.texts[i] for task in data for n, i in
             task_design(task, corpora).rows[:16]]
    log(check_export(out, e5, task_heads, probe, base))
    return {"base": T.BASE_MODEL, "rank": T.RANK, "alpha": T.ALPHA, "steps": done,
            "steps_planned": steps, "max_seconds": max_seconds,
            "batch": BATCH, "task_cycle": list(TASK_CYCLE), "lr": LR, "head_lr": HEAD_LR,
            "warmup": WARMUP, "tuned_layers": f"{T.FIRST_TUNED_LAYER}-11",
            "max_tokens": T.MAX_TOKENS, "threads": THREADS, "seconds": round(seconds, 1),
            "batches_per_task": seen,
            "training": {task: {"texts": len(d.y), "sources": d.sources}
                         for task, d in data.items()}}


def task_loss(task: str, data: TaskData, idx: np.ndarray, e5, task_heads):
    import torch
    from torch.nn import functional as F

    ids, mask = e5.tokenizer.pad([data.ids[i] for i in idx])
    z = task_heads[task](e5.forward(ids, mask))
    target = torch.from_numpy(data.y[idx])
    if task == "sarcasm":
        return F.binary_cross_entropy_with_logits(z.squeeze(-1), target.float())
    return F.cross_entropy(z, target)


def export(model, task_heads) -> dict[str, np.ndarray]:
    arrays = {}
    for i, layer in enumerate(model.encoder.layer):
        if i < T.FIRST_TUNED_LAYER:
            continue
        for target in T.TARGETS:
            lora = T.submodule(layer, target)
            arrays[f"{i}.{target}.A"] = lora.A.detach().numpy()
            arrays[f"{i}.{target}.B"] = lora.B.detach().numpy()
        for norm in T.NORMS:
            ln = T.submodule(layer, norm)
            arrays[f"{i}.{norm}.weight"] = ln.weight.detach().numpy()
            arrays[f"{i}.{norm}.bias"] = ln.bias.detach().numpy()
    for task, head in task_heads.items():
        arrays[f"head.{task}.w"] = head.weight.detach().numpy()
        arrays[f"head.{task}.b"] = head.bias.detach().numpy()
    return {k: v.astype(np.float16) for k, v in arrays.items()}


def check_export(out: Path, e5, task_heads, texts: list[str], base) -> str:
    """The merged float16 artefact must reproduce the trained model's probabilities."""
    import torch

    with torch.inference_mode():
        pooled = e5.pooled([T.clip(t) for t in texts])
        ref = {task: head(pooled).numpy() for task, head in task_heads.items()}
    ours = T.TunedEncoder.load(out, base).logits(texts)
    worst = max(float(np.abs(_probs(task, ours[task]) - _probs(task, ref[task])).max())
                for task in ref)
    report = f"tuned export check on {len(texts)} texts: probabilities within {worst:.4f}"
    if worst > 0.02:
        raise AssertionError(f"the exported adapters differ from the trained ones: {report}")
    return report


def _probs(task: str, z: np.ndarray) -> np.ndarray:
    if task == "sarcasm":
        return 1 / (1 + np.exp(-z))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --- weighing against the n-gram head ----------------------------------------------------------

def weigh(out: Path, fast_from: Path, dev_cap: int | None, sample: int | None = None,
          log=print, exclude: dict[str, set[int]] | None = None) -> dict:
    """Write `out`/text_heads.{json,npz}: the n-gram head of `fast_from`, blended per task and
    language with the encoder of `out` (weight and temperature chosen on dev rows, less the
    `exclude`d rows of each corpus: those a quality run reports on)."""
    t0 = time.perf_counter()
    corpora = TR.load_corpora(sample)
    model = heads.TextModel.load(fast_from)
    encoder = T.TunedEncoder.load(out)
    rng = np.random.default_rng(SEED)
    sets, fast, tuned, labels = [], {}, {}, {}
    for d, rows in dev_sets(corpora):
        rows = [r for r in rows if r not in (exclude or {}).get(d.corpus, ())]
        if dev_cap and len(rows) > dev_cap:
            rows = sorted(rng.choice(rows, dev_cap, replace=False).tolist())
        split = corpora[d.corpus].split
        texts = [split.texts[i] for i in rows]
        dense = np.stack([heads.dense_features(t, split.lang, find_cues(t, split.lang), False)
                          for t in texts])
        fast[d.name] = model.fast_logits(texts, dense)
        tuned[d.name] = encoder.logits(texts)
        labels[d.name] = [split.labels[i] for i in rows]
        sets.append(d)
        log(f"  {d.name}: {len(rows)} texts ({time.perf_counter() - t0:.0f}s)")
    seen = {d.name for d in sets if d.corpus in HELD}
    weights, temperature = {}, {}

    def mixed(d, w):
        return (1 - w) * fast[d.name][:, model.slices[d.task]] + w * tuned[d.name][d.task]

    def score(d, z):
        return TR.score(d.metric, labels[d.name], TR.decide(d, z)[0])

    for task in TR.TASKS:
        weights[task] = {}
        for lang in heads.LANGS:
            mine = [d for d in sets if d.task == task and corpora[d.corpus].split.lang == lang]
            pick = [d for d in mine if d.name not in seen] or mine
            weights[task][lang] = float(max(TR.BLEND_GRID, key=lambda w, pick=pick: np.mean(
                [score(d, mixed(d, w)) for d in pick]))) if pick else 0.0
        clean = [d for d in sets if d.task == task and d.name not in seen]
        grid = np.exp(np.linspace(np.log(0.25), np.log(4.0), 41))
        temperature[task] = float(min(grid, key=lambda t, clean=clean: np.mean([
            _nll(d, mixed(d, weights[d.task][corpora[d.corpus].split.lang]), labels[d.name], t)
            for d in clean])))
    unc = {}
    for d in sets:
        probs = {}
        for task, cols in model.slices.items():
            z = fast[d.name][:, cols] / temperature[task]
            probs[task] = 1 / (1 + np.exp(-z[:, 0])) if task == "sarcasm" else TR._softmax(z)
        unc[d.name] = heads.uncertainty(probs)
    threshold = float(np.quantile(np.concatenate(list(unc.values())), 1 - TR.AUTO_SHARE))
    figures = []
    for d in sets:
        z = mixed(d, weights[d.task][corpora[d.corpus].split.lang])
        z_fast = fast[d.name][:, model.slices[d.task]]
        use = unc[d.name] >= threshold
        figures.append({"set": d.name, "metric": d.metric, "target": d.target,
                        "rows": len(labels[d.name]), "fast": round(score(d, z_fast), 4),
                        "tuned": round(score(d, tuned[d.name][d.task]), 4),
                        "final (embed=always)": round(score(d, z), 4),
                        "auto": round(score(d, np.where(use[:, None], z, z_fast)), 4),
                        "auto_embedded_share": round(float(use.mean()), 3),
                        "note": SEEN_BY_FAST if d.name in seen else ""})
    config = json.loads((fast_from / heads.CONFIG_FILE).read_text(encoding="utf-8"))
    config.update({"version": "text-heads-2-e5", "embedding": None,
                   "blend": {t: dict.fromkeys(heads.LANGS, 0.0) for t in TR.TASKS},
                   "temperature": temperature, "auto_threshold": threshold,
                   "tuned": {"file": T.ARTIFACT, "base": T.BASE_MODEL, "weight": weights}})
    if (fast_from / heads.WEIGHTS_FILE).resolve() != (out / heads.WEIGHTS_FILE).resolve():
        (out / heads.WEIGHTS_FILE).write_bytes((fast_from / heads.WEIGHTS_FILE).read_bytes())
    (out / heads.CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    for r in figures:
        log(f"  {r['set']:42} {r['metric']:12} fast {r['fast']:.4f} tuned {r['tuned']:.4f} "
            f"final {r['final (embed=always)']:.4f} auto {r['auto']:.4f} {r['note']}")
    return {"figures": figures, "weights": weights, "temperature": temperature,
            "auto_threshold": threshold, "dev_cap": dev_cap,
            "excluded_rows": {k: len(v) for k, v in (exclude or {}).items()},
            "seconds": round(time.perf_counter() - t0, 1)}


def _nll(d, z: np.ndarray, y: list, t: float) -> float:
    _, p = TR.decide(d, z, t)
    if d.task == "sarcasm":
        p = np.clip(p, 1e-6, 1 - 1e-6)
        y = np.array(y)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    idx = [TR.TASKS[d.task].index(label) for label in y]
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), idx], 1e-9, 1))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=heads.ARTIFACTS / "e5")
    parser.add_argument("--sample", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="stop after this long (the artefact is written either way)")
    parser.add_argument("--weigh-only", action="store_true",
                        help="keep the encoder in --out; only weigh it against the n-gram head")
    parser.add_argument("--dev-cap", type=int, default=None,
                        help="weigh on at most N seeded rows per dev set (time)")
    parser.add_argument("--exclude", type=Path, default=None,
                        help="a `benchmarks.quality --keep` folder: its dev rows are never "
                             "weighed on, so that run's figures stay held out")
    args = parser.parse_args(argv)
    if not D.available():
        print(f"shared data not found at {D.data_dir()} (set SUBTEXT_SHARED_DATA)",
              file=sys.stderr)
        return 2
    log = lambda m: print(m, flush=True)  # noqa: E731
    if not args.weigh_only:
        info = train(args.out, args.sample, log=log, steps=args.steps,
                     max_seconds=args.max_seconds)
        (args.out / "tune_provenance.json").write_text(json.dumps(info, indent=1) + "\n")
        log(f"tuned in {info['seconds']}s: {info['steps']} steps")
    info = weigh(args.out, heads.ARTIFACTS, args.dev_cap, args.sample, log,
                 exclude=TR.kept_rows(args.exclude) if args.exclude else None)
    (args.out / "weigh.json").write_text(json.dumps(info, indent=1) + "\n")
    TR.refit_gate(args.out, args.sample, log)  # the auto gate follows the weighed heads
    return 0


if __name__ == "__main__":
    sys.exit(main())

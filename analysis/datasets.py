"""Loaders for the public training / dev datasets in the shared data directory.

Used by training and the quality benchmark only: the product never reads these at run time.
Every loader returns a `Split` (texts, labels) with labels already mapped to our label sets:

    sentiment  positive | negative | neutral
    emotion    anger | disgust | fear | joy | sadness | surprise | neutral
    sarcasm    0 | 1

The directory comes from SUBTEXT_SHARED_DATA, by default ../shared/data beside the repo root.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CHNSENTI_HELDOUT = 0.2  # fraction of the ChnSentiCorp file kept apart as its dev set
SPLIT_SEED = 20240601  # fixed: the held-out part must not move between runs


@dataclass
class Split:
    texts: list[str]
    labels: list
    lang: str  # "en" | "zh"
    name: str = ""

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index) -> Split:
        return Split([self.texts[i] for i in index], [self.labels[i] for i in index], self.lang,
                     self.name)


def data_dir() -> Path:
    env = os.environ.get("SUBTEXT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def available() -> bool:
    return (data_dir() / "tweeteval").is_dir()


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


_MMSD_TOKENS = [(re.compile(r"<user>"), "@user"), (re.compile(r"<num>"), "0"),
                (re.compile(r"\bemoji_\d+\b"), "")]


def normalize_tweet(text: str) -> str:
    """Bring the corpora's placeholders to one form, the form run-time text gets too
    (`heads.prepare` maps real handles to @user and URLs to http)."""
    for pattern, repl in _MMSD_TOKENS:
        text = pattern.sub(repl, text)
    return re.sub(r"\s+", " ", text).strip()


# --- TweetEval (English tweets) -------------------------------------------------------------

TWEETEVAL_MAPS = {
    "sentiment": {"0": "negative", "1": "neutral", "2": "positive"},
    # optimism is counted as joy, as the target of issue #3 asks
    "emotion": {"0": "anger", "1": "joy", "2": "joy", "3": "sadness"},
    "irony": {"0": 0, "1": 1},
}


def tweeteval(task: str, split: str) -> Split:
    """task: irony | sentiment | emotion; split: train | val (sentiment has val only)."""
    folder = data_dir() / "tweeteval" / task
    texts = [normalize_tweet(t) for t in _lines(folder / f"{split}_text.txt")]
    raw = [x.strip() for x in _lines(folder / f"{split}_labels.txt") if x.strip()]
    labels = [TWEETEVAL_MAPS[task][x] for x in raw]
    return Split(texts[: len(labels)], labels, "en", f"tweeteval-{task}-{split}")


def tweeteval_emotion4(split: str) -> Split:
    """The original four TweetEval emotion classes (optimism kept apart), for training."""
    folder = data_dir() / "tweeteval" / "emotion"
    names = {"0": "anger", "1": "joy", "2": "optimism", "3": "sadness"}
    texts = [normalize_tweet(t) for t in _lines(folder / f"{split}_text.txt")]
    labels = [names[x.strip()] for x in _lines(folder / f"{split}_labels.txt") if x.strip()]
    return Split(texts[: len(labels)], labels, "en", f"tweeteval-emotion4-{split}")


def sampled_rows(sizes: dict[str, int], sample: int | None, seed: int) -> dict[str, list[int]]:
    """`sample` rows of each named set (all of a smaller one), drawn in name order from one
    seeded generator: the same rows for the same sizes in any run (the quality benchmark's)."""
    rng = np.random.default_rng(seed)
    return {name: (sorted(rng.choice(n, sample, replace=False).tolist())
                   if sample and n > sample else list(range(n)))
            for name, n in sorted(sizes.items())}


# --- MMSD2.0 (English multimodal sarcasm, text only here) -----------------------------------

def mmsd2(split: str) -> Split:
    """split: train | valid."""
    rows = _jsonl(data_dir() / "mmsd2" / f"mmsd2_{split}.jsonl")
    return Split([normalize_tweet(r["text"]) for r in rows], [int(r["label"]) for r in rows], "en",
                 f"mmsd2-{split}")


# --- SMP2020-EWECT (Chinese Weibo, six emotions) --------------------------------------------

SMP_MAP = {"angry": "anger", "happy": "joy", "sad": "sadness", "fear": "fear",
           "surprise": "surprise", "neutral": "neutral"}
SMP_CLASSES = ("anger", "fear", "joy", "neutral", "sadness", "surprise")


def smp2020(split: str) -> Split:
    """split: usual_dev | virus_train | virus_dev."""
    rows = _jsonl(data_dir() / "smp2020_ewect" / f"{split}.jsonl")
    return Split([r["text"] for r in rows], [SMP_MAP[r["label"]] for r in rows], "zh",
                 f"smp2020-{split}")


# --- ToSarcasm (Chinese topic-oriented sarcasm) ---------------------------------------------

def tosarcasm(split: str, with_topic: bool = False) -> Split:
    """split: train | dev. The product sees a post without its news topic, so by default the
    text alone is returned; with_topic prepends the topic for comparison."""
    rows = _jsonl(data_dir() / "tosarcasm" / f"{split}.jsonl")
    texts = [f"{r['topic']}：{r['text']}" if with_topic else r["text"] for r in rows]
    return Split(texts, [int(r["label"]) for r in rows], "zh", f"tosarcasm-{split}")


# --- ChnSentiCorp (Chinese hotel reviews, binary) -------------------------------------------

def chnsenticorp(part: str) -> Split:
    """part: train | heldout. The file has one split; a fixed random 20% is held out."""
    rows = _jsonl(data_dir() / "chnsenticorp" / "train.jsonl")
    order = np.random.default_rng(SPLIT_SEED).permutation(len(rows))
    cut = int(len(rows) * CHNSENTI_HELDOUT)
    index = sorted(order[:cut] if part == "heldout" else order[cut:])
    texts = [rows[i]["text"] for i in index]
    labels = ["positive" if rows[i]["label"] == 1 else "negative" for i in index]
    return Split(texts, labels, "zh", f"chnsenticorp-{part}")


# --- Meme OCR text (train only) -------------------------------------------------------------

MET_MAP = {"happiness": "joy", "love": "joy", "sorrow": "sadness", "anger": "anger",
           "hate": "disgust", "surprise": "surprise", "fear": "fear"}


def met_meme(lang: str) -> Split:
    """lang: zh | en. Meme captions with seven emotions (love counted as joy, hate as disgust)."""
    rows = _jsonl(data_dir() / "met_meme" / f"{lang}_train.jsonl")
    rows = [r for r in rows if r.get("text") and r.get("emotion") in MET_MAP]
    return Split([normalize_tweet(r["text"]) for r in rows], [MET_MAP[r["emotion"]] for r in rows],
                 lang, f"met_meme-{lang}")


def cm_off_meme(task: str) -> Split:
    """task: sentiment | sarcasm. Code-mixed (Hinglish) meme captions; rows lacking the label
    are dropped."""
    rows = [r for r in _jsonl(data_dir() / "cm_off_meme" / "train.jsonl")
            if r.get(task) is not None and r.get("text")]
    labels = [int(r[task]) if task == "sarcasm" else r[task] for r in rows]
    return Split([normalize_tweet(r["text"]) for r in rows], labels, "en", f"cm_off_meme-{task}")

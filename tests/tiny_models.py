"""Tiny, randomly initialised transformers models built from configs, for offline tests.

Nothing here downloads: the tokenizer is trained on the spot with `tokenizers` (byte-level BPE,
so any English or Chinese text round-trips), the models are built from configs with a few
thousand weights, and everything is saved to a directory like a real checkpoint, so the
backends load them through the same `from_pretrained` path as a downloaded model.

    python -m tests.tiny_models DIR     # a tiny LLaVA-style VLM in DIR (for the benchmark)
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    CLIPImageProcessorPil,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    LogitsProcessor,
    PreTrainedTokenizerFast,
)

IMAGE_SIDE, PATCH = 32, 16  # 4 image tokens per picture: enough to exercise the vision path
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<image>", "<|user|>", "<|assistant|>",
            "<|system|>", "<|end|>", "<think>", "</think>"]

# A ChatML-like template with image blocks and the `enable_thinking` switch of Qwen3/GLM-style
# templates, so the backend's thinking handling is exercised too.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>"
    "{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>"
    "{% if enable_thinking is defined and not enable_thinking %}<think></think>{% endif %}"
    "{% endif %}"
)

CORPUS = [
    '{"image_text": "", "label": "positive", "sentiment": "positive", "emotion": "joy", '
    '"explanation": "The post praises the camera."}',
    '{"label": "sarcastic", "sentiment": "negative", "emotion": "anger"}',
    '{"label": "negative", "sentiment": "neutral", "emotion": "sadness", "surprise", '
    '"fear", "disgust", "neutral"}',
    "You read social media posts about brands. Answer with one JSON object.",
    "这产品真厉害，让我三天没睡着。帖子字面上在夸，图片配字在抱怨：反讽，实为负面。",
    "Love my Nimbus 7, the camera is amazing. Battery drains in two hours, terrible.",
]


def tokenizer(vocab_size: int = 400) -> PreTrainedTokenizerFast:
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    bpe.train_from_iterator(CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, pad_token="<pad>", bos_token="<s>", eos_token="<|end|>",
        unk_token="<unk>", extra_special_tokens={"image_token": "<image>"},
        chat_template=CHAT_TEMPLATE)


def save_vlm(folder: Path, seed: int = 0) -> Path:
    """A LLaVA-style VLM (CLIP vision tower + a two-layer Llama) with its processor."""
    torch.manual_seed(seed)
    tok = tokenizer()
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2, image_size=IMAGE_SIDE, patch_size=PATCH,
                              projection_dim=32)
    text = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                       num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                       max_position_embeddings=2048, pad_token_id=tok.pad_token_id,
                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    config = LlavaConfig(vision_config=vision, text_config=text,
                         image_token_index=tok.convert_tokens_to_ids("<image>"),
                         image_seq_length=(IMAGE_SIDE // PATCH) ** 2)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    images = CLIPImageProcessorPil(size={"shortest_edge": IMAGE_SIDE},
                                   crop_size={"height": IMAGE_SIDE, "width": IMAGE_SIDE})
    processor = LlavaProcessor(image_processor=images, tokenizer=tok, patch_size=PATCH,
                               vision_feature_select_strategy="default",
                               num_additional_image_tokens=1,  # CLIP's CLS token
                               chat_template=CHAT_TEMPLATE)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_classifier(folder: Path, labels: list[str], favour: str | None = None,
                    seed: int = 0) -> Path:
    """A BERT-style sequence classifier whose id2label are `labels`, with its tokenizer.
    `favour`: a label the classifier's bias makes it pick for any text (p ≈ 0.98), so tests
    of the fusion know what each model says."""
    torch.manual_seed(seed)
    tok = tokenizer()
    config = BertConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                        num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=128,
                        pad_token_id=tok.pad_token_id,
                        id2label=dict(enumerate(labels)),
                        label2id={label: i for i, label in enumerate(labels)})
    model = BertForSequenceClassification(config).eval()
    if favour is not None:
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.fill_(0.0)
            model.classifier.bias[labels.index(favour)] = 4.0 + math.log(len(labels))
    model.save_pretrained(folder)
    tok.model_max_length = 128
    tok.save_pretrained(folder)
    return folder


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.tiny_models DIR")
    print(save_vlm(Path(sys.argv[1])))


class ForceAnswers(LogitsProcessor):
    """Makes a (random) model write given answers: each `generate` call takes the next list of
    answers, one per batch row, and every step allows only the next token of its row's answer
    (then the end token). `soft` maps (row, step) to {token id: probability} of other tokens, for
    when a test wants the forced token to carry a known probability instead of 1.

    It also records each call's decoded prompts, so tests can read what the model was asked.
    """

    def __init__(self, tokenizer, calls: list[list[str]], soft: dict | None = None):
        self.tokenizer = tokenizer
        self.calls = [[tokenizer.encode(a, add_special_tokens=False) + [tokenizer.eos_token_id]
                       for a in answers] for answers in calls]
        self.soft = soft or {}
        self.prompts: list[list[str]] = []
        self._start = self._last = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor):
        length = input_ids.shape[1]
        if self._last is None or length != self._last + 1:  # a new generate call
            self._start, answers = length, self.calls.pop(0)
            self._answers = answers
            self.prompts.append(self.tokenizer.batch_decode(input_ids))
        self._last = length
        step = length - self._start
        forced = torch.full_like(scores, -math.inf)
        for row, answer in enumerate(self._answers):
            token = answer[step] if step < len(answer) else self.tokenizer.eos_token_id
            others = self.soft.get((row, step), {})  # {token id: probability}
            forced[row, token] = math.log(1.0 - sum(others.values()))
            for other, p in others.items():
                forced[row, other] = math.log(p)
        return forced

"""Regenerate the bundled demo dataset (run from the repo root):

    python -m data.demo.make_demo [--out DIR] [--no-images]

Writes posts.jsonl, labels.jsonl and images/*.png next to this file. The texts and image
designs are hand-written in content.py; this script only places them in time and adds
authors and engagement, all from a fixed seed, so re-running reproduces identical files.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

from data.demo.content import ALL_DRAFTS, MEMES, Draft
from data.demo.memes import FontMissingError, render_meme, require_cjk_font

SEED = 20240611
DEMO_DIR = Path(__file__).resolve().parent
IMAGE_DIR = "images"
BRAND_TERMS = {"Nimbus": ("nimbus", "云朵"), "Voltra": ("voltra", "伏特拉")}  # as in subtext.toml
CJK = re.compile(r"[\u3400-\u9fff]")

LABELS = {"pos": "positive", "neg": "negative", "neu": "neutral", "sar": "sarcastic"}
SENTIMENT = {"pos": "positive", "neg": "negative", "neu": "neutral", "sar": "negative"}

# phase: (newest, oldest) in days ago, and whether posts crowd towards the newest end
# (a growing scandal: each day a little busier than the one before).
PHASES: dict[str, tuple[float, float, bool]] = {
    "nimbus_any": (0.05, 30.0, False),
    "nimbus_dip": (13.5, 16.5, False),  # Nimbus OS 5.1 ships and breaks Bluetooth
    "nimbus_fix": (11.0, 13.4, False),  # 5.1.1 fixes it
    "voltra_launch": (24.0, 30.0, False),
    "voltra_good": (9.0, 24.0, False),
    "voltra_first_reports": (5.5, 8.5, False),
    "voltra_scandal": (0.05, 5.5, True),
    "voltra_statement": (0.05, 3.4, True),  # after Voltra's "normal range" statement
    "both_any": (9.0, 30.0, False),
    "both_dip": (13.5, 16.5, False),
    "both_scandal": (0.05, 6.0, True),
}

EN_AUTHORS = [
    "techtom", "lena.codes", "mikeshoots", "gadget_gab", "sam_on_the_go", "priya_reviews",
    "jordanplays", "coffee_and_cables", "nightowl_nate", "the_real_dana", "budgetbytes",
    "maria_travels", "kev_builds", "hikerhannah", "pixel_pete", "ava_tries_things",
    "droidlord99", "lowbatteryluke", "chloe.m", "ben_commutes", "tinkering_tess",
    "frank_unfiltered", "ollie_games", "sarah_k_writes", "mobile_mo", "jake_the_dad",
    "quietlibrarian", "zoe_snaps", "raj_runs", "emily_eats", "dev_dan", "phonefan_42",
    "marcus_wrench", "lily_in_london", "grumpy_gus", "techdealsdaily", "mobilewire_news",
    "ninja_nora",
]
ZH_AUTHORS = [
    "数码小王子", "爱拍照的阿青", "杭州打工人", "柠檬不酸", "熬夜冠军", "科技老李", "小鹿乱撞",
    "今天也要早睡", "吃货小胖", "胡同里的猫", "程序员老周", "旅行的喵", "阿杰玩机", "奶茶续命",
    "广州靓仔", "一只咸鱼", "晴天娃娃", "学生党小林", "摄影爱好者老陈", "深夜食堂常客",
    "上海小笼包", "玩机达人阿明", "追剧少女", "骑行的风", "周末去爬山", "不想上班的兔子",
    "数码测评君", "橘子汽水", "山城小哥", "睡不醒的猫",
]


def language(text: str) -> str:
    return "zh" if CJK.search(text) else "en"


def brands_in(text: str) -> list[str]:
    lowered = text.lower()
    return [b for b, terms in BRAND_TERMS.items() if any(t in lowered for t in terms)]


def sample_days_ago(rng: random.Random, phase: str) -> float:
    newest, oldest, recent_heavy = PHASES[phase]
    u = rng.random()
    # Recent-heavy: density proportional to sqrt(1 - t), about 3x busier at the newest end.
    t = 1 - (1 - u) ** (2 / 3) if recent_heavy else u
    return round(newest + (oldest - newest) * t, 4)


def pick_author(rng: random.Random, lang: str) -> str:
    pool = ZH_AUTHORS if lang == "zh" else EN_AUTHORS
    # Zipf-like weights: a few accounts post a lot, most only once or twice.
    return rng.choices(pool, weights=[1 / (rank + 1) ** 0.5 for rank in range(len(pool))])[0]


def engagement(rng: random.Random, draft: Draft) -> tuple[int, int, int]:
    """Likes, reposts, replies: log-normal (most posts small), memes travel further, and a
    few posts go viral."""
    likes = rng.lognormvariate(1.4, 1.2)
    if draft.image:
        likes *= 2.0
    if draft.label == "sar" and draft.image:
        likes *= 2.0
    if rng.random() < (0.08 if draft.image else 0.02):  # reposted memes go viral more often
        likes *= rng.uniform(20, 80)
    likes = int(likes)
    reposts = int(likes * rng.uniform(0.02, 0.35))
    replies = int(likes * rng.uniform(0.02, 0.2)) + rng.randint(0, 3)
    return likes, reposts, replies


def check_content() -> None:
    """Fail loudly on content mistakes: unknown images, unused images, posts no query finds."""
    names = {m.name for m in MEMES}
    used = {d.image for d in ALL_DRAFTS if d.image}
    problems = [f"unknown image {n!r}" for n in sorted(used - names)]
    problems += [f"image {n!r} is used by no post" for n in sorted(names - used)]
    problems += [f"no brand in post {d.text!r}" for d in ALL_DRAFTS if not brands_in(d.text)]
    problems += [f"unknown phase {d.phase!r}" for d in ALL_DRAFTS if d.phase not in PHASES]
    problems += [f"unknown label {d.label!r}" for d in ALL_DRAFTS if d.label not in LABELS]
    if problems:
        raise ValueError("demo content problems:\n  " + "\n  ".join(problems))


def build_posts(seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """The posts (oldest first, ids in that order) and their ground-truth labels."""
    check_content()
    rng = random.Random(seed)
    placed = []
    for draft in ALL_DRAFTS:
        lang = language(draft.text)
        placed.append((sample_days_ago(rng, draft.phase), draft, lang, pick_author(rng, lang),
                       engagement(rng, draft)))
    placed.sort(key=lambda p: (-p[0], p[1].text))
    posts, labels = [], []
    for number, (days_ago, draft, lang, author, (likes, reposts, replies)) in enumerate(
            placed, start=1):
        post_id = f"d{number:04d}"
        posts.append({
            "id": post_id, "text": draft.text, "lang": lang, "author": author,
            "days_ago": days_ago,
            "image": f"{IMAGE_DIR}/{draft.image}.png" if draft.image else None,
            "likes": likes, "reposts": reposts, "replies": replies,
        })
        labels.append({"id": post_id, "label": LABELS[draft.label],
                       "sentiment": SENTIMENT[draft.label]})
    return posts, labels


def write_jsonl(path: Path, rows: list[dict]) -> None:
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8", newline="\n")


def write_posts(out_dir: Path, seed: int = SEED) -> tuple[list[dict], list[dict]]:
    posts, labels = build_posts(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(out_dir / "posts.jsonl", posts)
    write_jsonl(out_dir / "labels.jsonl", labels)
    return posts, labels


def write_images(out_dir: Path) -> list[Path]:
    font = require_cjk_font()
    image_dir = out_dir / IMAGE_DIR
    image_dir.mkdir(parents=True, exist_ok=True)
    wanted = {f"{m.name}.png" for m in MEMES}
    for stale in sorted(image_dir.glob("*.png")):  # renamed designs must not linger
        if stale.name not in wanted:
            stale.unlink()
    return [render_meme(m, image_dir / f"{m.name}.png", font) for m in MEMES]


def summary(posts: list[dict], labels: list[dict], images: list[Path]) -> str:
    langs = Counter(p["lang"] for p in posts)
    kinds = Counter(label["label"] for label in labels)
    with_image = sum(1 for p in posts if p["image"])
    size = sum(p.stat().st_size for p in images)
    return (f"{len(posts)} posts ({dict(langs)}), labels {dict(kinds)}, "
            f"{with_image} with an image; {len(images)} images, {size} bytes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.demo.make_demo",
                                     description="Regenerate the bundled demo dataset.")
    parser.add_argument("--out", type=Path, default=DEMO_DIR, help="output directory")
    parser.add_argument("--no-images", action="store_true", help="only posts and labels")
    args = parser.parse_args(argv)
    try:
        images = [] if args.no_images else write_images(args.out)
    except FontMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    posts, labels = write_posts(args.out)
    print(summary(posts, labels, images))
    return 0


if __name__ == "__main__":
    sys.exit(main())

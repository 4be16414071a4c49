"""How often each cue's posts are sarcastic in the sarcasm training data, beside the base rate:
which cues tell something, and whether fusion counts each as backing (`analysis.cues.NAMED`).

    python -m benchmarks.cue_rates

English: TweetEval irony train + MMSD2.0 train; Chinese: ToSarcasm train (the sincere-only
Chinese training rows would lower every rate alike). A cue is untelling when its posts are
sarcastic within MARGIN of the base rate or less, seen at least MIN_SEEN times.

Measured 2026-12-07: English hyperbole words such as "the best" (46.6% of 176), "always" (50.6%
of 251) and "forever" (23.7%) tell nothing against a base rate of 48.6%, "totally" (86.0%) does.
Not counting the untelling ones as backing was tried through the CLI (`benchmarks.quality
--sample 400`): demo positives called sarcastic 19.6% -> 17.6%, complaints 12.4% -> 10.4%, but
7 truly ironic TweetEval tweets were lost (irony F1 0.599 -> 0.568), so they still count.
"""

from __future__ import annotations

import sys
from collections import defaultdict

from analysis import cues as C
from analysis import datasets as D

MARGIN, MIN_SEEN = 0.05, 20


def rates(splits, lang: str) -> tuple[float, int, dict]:
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    total, sarcastic = 0, 0
    for split in splits:
        for text, label in zip(split.texts, split.labels, strict=True):
            y = int(label)
            total, sarcastic = total + 1, sarcastic + y
            for key in {(c.feature, c.name.lower()) for c in C.find_cues(text, lang)}:
                counts[key][0] += y
                counts[key][1] += 1
    return sarcastic / total, total, counts


def main() -> int:
    if not D.available():
        print(f"shared data not found at {D.data_dir()} (set SUBTEXT_SHARED_DATA)",
              file=sys.stderr)
        return 2
    for lang, splits in (("en", [D.tweeteval("irony", "train"), D.mmsd2("train")]),
                         ("zh", [D.tosarcasm("train")])):
        base, total, counts = rates(splits, lang)
        print(f"\n{lang}: {total} posts, {base:.1%} sarcastic")
        print(f"  {'feature':<18} {'cue':<24} {'seen':>5} {'sarcastic':>9}  tells?  named")
        for (feature, name), (y, n) in sorted(counts.items(), key=lambda kv: -kv[1][1]):
            if n < 5:
                continue
            tells = "no" if n >= MIN_SEEN and y / n <= base + MARGIN else ""
            named = "yes" if feature in C.NAMED else ""
            print(f"  {feature:<18} {name[:24]:<24} {n:>5} {y / n:>9.1%}  {tells:<6}  {named}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

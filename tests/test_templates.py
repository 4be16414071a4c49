"""Memes that come back: near-duplicate images (resized, re-encoded, re-captioned) of a
template reviewers labelled carry its reading into the next post's verdict; unrelated images do
not. Images are rendered by the test (tests/memes.py) and stored in a real DuckDB store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analysis import templates
from analysis.verdict import Verdict
from collectors.post import Post
from data import feedback
from data.images import store_image
from data.store import Pending
from subtext import jobs
from tests.memes import distance, encoded, phash, template, variants


@pytest.mark.parametrize("kind", ["resize", "jpeg", "caption", "all"])
def test_variants_of_a_template_match_and_unrelated_images_do_not(kind):
    for seed in range(10):
        original = phash(encoded(template(seed)))
        assert distance(original, phash(variants(seed)[kind])) <= templates.MAX_DISTANCE
        other = phash(encoded(template(seed + 1000)))
        assert distance(original, other) > templates.MAX_DISTANCE


def verdict(label: str = "positive", sarcasm_score: float = 0.3) -> Verdict:
    return Verdict(label=label, sentiment="negative" if label == "sarcastic" else label,
                   sarcasm=label == "sarcastic", sarcasm_score=sarcasm_score, emotion="joy",
                   emotions={"joy": 1.0}, confidence=0.7, explanation="Praise.",
                   analyzer="lite@1.1", evidence={})


def add_post(store, native_id: str, image: bytes) -> Pending:
    record = store_image(store.data_dir, image)
    post = Post(source="t", native_id=native_id, text="Nimbus is great",
                created_at=datetime.now(UTC), brands=["Nimbus"])
    store.save_posts([(post, [record])])
    return next(p for p in store.pending("lite@1.1", 100) if p.id == post.id)


def test_a_reviewed_template_is_a_prior_for_its_next_repost(store):
    for n in range(4):  # the same template posted and reviewed four times
        first = add_post(store, f"old{n}", encoded(template(7, caption=f"take {n}")))
        store.save_verdicts([(first, verdict())])
        feedback.record(store, first.id, feedback.Correction(label="sarcastic"), "rev")
    repost = add_post(store, "new", variants(7)["all"])
    unrelated = add_post(store, "other", encoded(template(99)))
    text_only = Pending(id="t:none", text="x", lang=None, image_path=None, content_hash="-")
    out = jobs.with_template_priors(store, [repost, unrelated, text_only],
                                    [verdict(), verdict(), verdict()])
    assert out[0].label == "sarcastic" and out[0].sarcasm_score > 0.5
    assert out[0].evidence["template"]["note"] == "this template was reviewed as mocking 4 times"
    assert "reviewed as mocking 4 times" in out[0].explanation
    assert out[1] == verdict() and out[2] == verdict()  # no template, no prior


def test_prior_strength_grows_with_reviews_and_follows_the_majority():
    once = templates.apply_prior(verdict(sarcasm_score=0.3), {"sarcastic": 1})
    often = templates.apply_prior(verdict(sarcasm_score=0.3), {"sarcastic": 6})
    assert 0.3 < once.sarcasm_score < often.sarcasm_score
    assert once.evidence["template"]["note"].endswith("mocking 1 time")
    calm = templates.apply_prior(verdict("sarcastic", 0.55), {"neutral": 3, "sarcastic": 1})
    assert calm.label == "neutral" and calm.sarcasm_score < 0.5 and not calm.sarcasm
    assert templates.apply_prior(verdict(), {}) == verdict()

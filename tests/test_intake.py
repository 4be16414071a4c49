"""The fast paths of ingest agree with the slow ones they stand in for: row checks with PostIn,
the brand matcher with each query's own matcher, the hand-written content hash with json.dumps."""

import hashlib
import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from collectors.intake import fast_post, validate_rows
from collectors.post import PostIn, utcnow
from collectors.query import brand_matcher, parse
from data.bulk import content_hash
from data.images import ImageRecord

NOW = datetime.now(UTC).replace(microsecond=0)
BRANDS = frozenset({"Nimbus", "Voltra"})
GOOD = {"id": "a1", "text": "Nimbus camera is fine", "created_at": "2026-10-01T12:00:00Z"}

FULL = {**GOOD, "source": "rss.feed-1", "author": "ann", "url": "https://x.org/1", "lang": "en",
        "likes": 5, "reposts": 0, "replies": 2 ** 63 - 1, "images": ["https://x.org/a.png"],
        "brands": ["Nimbus", "Voltra"]}

ROWS = [
    GOOD,
    {"id": "a2", "text": ""},  # no date: now
    {**GOOD, "created_at": None},
    {**GOOD, "created_at": "2026-10-01T12:00:00.123456+05:30"},
    {**GOOD, "created_at": "2026-10-01T12:00:00.5+00:00"},
    {**GOOD, "created_at": "2026-10-01T12:00:00-00:00"},
    {**GOOD, "created_at": "2026-10-01T23:30:00-08:00"},  # the next day in UTC
    {**GOOD, "created_at": "0001-01-01T00:00:00+01:00"},
    {**GOOD, "created_at": "2026-10-01T12:00:00"},  # no zone: UTC
    {**GOOD, "created_at": "2026-10-01T12:00:00.1234567Z"},  # 7 digits: PostIn's call
    {**GOOD, "created_at": "2026-10-01"},
    {**GOOD, "created_at": "2026-10-01 12:00:00Z"},
    {**GOOD, "created_at": "2026-10-01T12:00:00+24:00"},
    {**GOOD, "created_at": "2026-13-01T12:00:00Z"},
    {**GOOD, "created_at": "1999-12-31T23:59:59Z"},
    {**GOOD, "created_at": "2099-01-01T00:00:00Z"},
    {**GOOD, "created_at": (NOW + timedelta(hours=3)).isoformat()},
    {**GOOD, "created_at": "9999-12-31T23:59:59-14:00"},
    {**GOOD, "created_at": 1700000000},
    {**GOOD, "created_at": "1700000000"},
    FULL,
    {**GOOD, "likes": 2 ** 63}, {**GOOD, "likes": -1}, {**GOOD, "likes": True},
    {**GOOD, "likes": 3.0}, {**GOOD, "likes": "3"}, {**GOOD, "likes": None},
    {**GOOD, "id": " a1 "}, {**GOOD, "id": ""}, {**GOOD, "id": "   "}, {**GOOD, "id": 7},
    {**GOOD, "id": "x" * 512}, {**GOOD, "id": "x" * 513},
    {**GOOD, "text": "x" * 100_000}, {**GOOD, "text": "x" * 100_001},
    {**GOOD, "text": "\x1fpadded\x1f"}, {**GOOD, "text": " padded\n"}, {**GOOD, "text": None},
    {"id": "no-text"}, {"text": "no id"}, {**GOOD, "colour": "red"},
    {**GOOD, "source": "bad source"}, {**GOOD, "source": "x" * 65}, {**GOOD, "source": ""},
    {**GOOD, "source": "ok\n"},
    {**GOOD, "author": "a" * 512}, {**GOOD, "author": "a" * 513}, {**GOOD, "author": 5},
    {**GOOD, "url": "u" * 4097}, {**GOOD, "lang": "x" * 17}, {**GOOD, "lang": "en "},
    {**GOOD, "images": None}, {**GOOD, "images": ""}, {**GOOD, "images": "a.png"},
    {**GOOD, "images": [" a.png"]}, {**GOOD, "images": ["a"] * 17}, {**GOOD, "images": [1]},
    {**GOOD, "brands": []}, {**GOOD, "brands": ["Acme"]}, {**GOOD, "brands": ["Nimbus "]},
    {**GOOD, "brands": "Nimbus"}, {**GOOD, "brands": [f"b{i}" for i in range(33)]},
    {**GOOD, "brands": ["x" * 201]}, {**GOOD, "brands": [None]},
]


def reference(row: dict, known) -> dict | str:
    """What PostIn makes of the row: the Post's fields, or the first error's location."""
    context = {"brands": sorted(known)} if known is not None else None
    try:
        post = asdict(PostIn.model_validate(row, context=context).to_post())
    except ValidationError as exc:
        return "error at " + ".".join(map(str, exc.errors()[0]["loc"]))
    return post


def same(post: dict, expected: dict, before: datetime) -> bool:
    if "created_at" not in expected or expected["created_at"] >= before:  # defaulted to now
        post, expected = {**post, "created_at": None}, {**expected, "created_at": None}
    return post == expected


@pytest.mark.parametrize("known", [BRANDS, None])
@pytest.mark.parametrize("index", range(len(ROWS)))
def test_the_fast_path_accepts_only_what_postin_accepts_and_alike(index, known):
    row = ROWS[index]
    before = utcnow() - timedelta(seconds=1)
    expected = reference(row, known)
    fast = fast_post(row, known, utcnow())
    if fast is not None:  # accepted fast: PostIn accepts it and makes the same post
        assert isinstance(expected, dict), expected
        assert same(asdict(fast), expected, before)
    ((_, result),) = validate_rows([row], known)  # and the whole path gives PostIn's answer
    if isinstance(expected, str):
        assert isinstance(result, ValidationError)
        assert expected == "error at " + ".".join(map(str, result.errors()[0]["loc"]))
    else:
        assert same(asdict(result), expected, before)


def test_common_rows_take_the_fast_path():
    for row in (GOOD, FULL, {"id": "a2", "text": ""}, {**GOOD, "created_at": None},
                {**GOOD, "created_at": "2026-10-01T12:00:00.5+05:30"}):
        assert fast_post(row, BRANDS, utcnow()) is not None


def test_bad_rows_among_good_ones_are_errors_with_their_index():
    rows = [GOOD, {**GOOD, "likes": -1}, {**GOOD, "id": "a3"}, {**GOOD, "brands": ["Acme"]}]
    results = validate_rows(rows, BRANDS)
    assert [i for i, r in results if isinstance(r, ValidationError)] == [1, 3]
    assert [(i, r.native_id) for i, r in results if not isinstance(r, ValidationError)] == [
        (0, "a1"), (2, "a3")]
    assert "not configured brand(s): 'Acme'" in str(results[3][1])


def test_rows_that_may_hold_lone_surrogates_go_through_postin():
    row = {**GOOD, "text": "a \ud800 b"}
    ((_, result),) = validate_rows([row], BRANDS, fast=False)
    assert isinstance(result, ValidationError) and "unicode" in str(result)


QUERIES = ["nimbus", "nimbus OR 云朵", '"nimbus 7" AND (camera OR 拍照)', "nimbus -refund",
           "#nimbus", "@nimbus", "nimbus OR @nimbus_official", "batter*",
           "nimbus NEAR/3 camera", "(nimbus OR 云朵) NEAR/5 (续航 OR battery)",
           "nimbus camera", "nimbus AND NOT voltra", "c++", "#云朵#"]
TEXTS = ["Nimbus camera is great", "nimbuses are clouds", "NIMBUS 7 camera", "my nimbus refund",
         "so good #Nimbus", "@nimbus hello", "my Battery died", "nimbus has a great big camera",
         "云朵手机的续航不行", "ＮＩＭＢＵＳ最棒", "nimbus and voltra", "written in C++",
         "#云朵# 新品", "nothing here", "", "nimbuses, cumulonimbus and then nimbus 7",
         "batte battery", "#nimbus7 #nimbus"]


def test_the_brand_matcher_agrees_with_each_query():
    brands = tuple((f"b{i}", q) for i, q in enumerate(QUERIES))
    match = brand_matcher(brands)
    for text in TEXTS:
        for author in (None, "nimbus", "nimbus_official@mastodon.social", "ann"):
            expected = [name for name, q in brands if parse(q).matches(text, author)]
            assert match(text, author) == expected, (text, author)


@pytest.mark.parametrize("text, shas", [
    ("Nimbus camera", []), ('quote " and \\ back\nslash', ["ab" * 32]),
    ("云朵手机 🙂 \u2028", ["00" * 32, "ff" * 32]), ("", [])])
def test_the_content_hash_is_the_one_stored_before(text, shas):
    records = [ImageRecord(sha256=s, status="ok") for s in shas]
    before = hashlib.sha256(json.dumps([text, shas]).encode()).hexdigest()
    assert content_hash(text, records) == before

"""Keyset paging of /v1/posts: a page's next_cursor gives the next page, ties on created_at
included, with filters, and a cursor the API did not issue is a 422."""

from datetime import UTC, datetime, timedelta

from analysis.verdict import Verdict

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# 13 posts, several sharing a timestamp: the id breaks the tie
POSTS = [{"id": f"p{i:02d}", "text": f"Nimbus {'or Voltra ' * (i % 3 == 0)}post {i}",
          "created_at": (T0 - timedelta(minutes=i // 3)).isoformat()} for i in range(13)]


def pages(client, **params) -> list[dict]:
    out, cursor = [], None
    for _ in range(20):
        body = client.get("/v1/posts", params={**params, "limit": 4,
                                               **({"cursor": cursor} if cursor else {})}).json()
        out.append(body)
        cursor = body["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("the cursor never ended")


def test_cursor_pages_equal_the_offset_listing(client):
    assert client.post("/v1/ingest", json={"posts": POSTS}).status_code == 200
    everything = [p["id"] for p in client.get("/v1/posts", params={"limit": 500}).json()["items"]]
    assert len(everything) == 13
    walked = pages(client)
    assert [p["id"] for page in walked for p in page["items"]] == everything
    assert [len(page["items"]) for page in walked] == [4, 4, 4, 1]
    assert all(page["total"] == 13 for page in walked)
    voltra = pages(client, brand="Voltra")
    assert [p["id"] for page in voltra for p in page["items"]] == \
        [i for i in everything if int(i[-2:]) % 3 == 0]


def test_a_cursor_also_pages_a_verdict_filter(client, engine):
    client.post("/v1/ingest", json={"posts": POSTS})
    pending = engine.store.pending("test@1", 100)
    engine.store.save_verdicts([(p, Verdict(
        label="sarcastic" if int(p.id[-2:]) % 2 else "neutral", sentiment="neutral",
        sarcasm=False, sarcasm_score=0.1, emotion="neutral", emotions={}, confidence=0.5,
        explanation="", analyzer="test@1")) for p in pending])
    walked = pages(client, label="sarcastic")
    ids = [p["id"] for page in walked for p in page["items"]]
    assert len(ids) == 6 and all(int(i[-2:]) % 2 for i in ids)
    assert ids == sorted(ids, key=lambda i: (int(i[-2:]) // 3, i))  # newest first, id ties


def test_a_forged_cursor_is_a_422(client):
    for bad in ("not-a-cursor", "Zm9v", "x" * 2000):
        response = client.get("/v1/posts", params={"cursor": bad})
        assert response.status_code == 422
        assert "cursor" in response.text

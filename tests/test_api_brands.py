"""The brand filter through the real app: any case of a brand finds its posts; a brand that is
neither configured nor on a stored post is a 422 that names the configured brands, on every
route that takes `?brand=`, instead of an empty result that reads as silence."""

from datetime import UTC, datetime

import pytest

from collectors.post import Post

ROUTES = [("/v1/posts", {}), ("/v1/trends", {}), ("/v1/export", {"format": "csv"}),
          ("/v1/insights/terms", {"since": "2026-01-01", "until": "2026-02-01"}),
          ("/v1/review/queue", {}), ("/v1/alerts", {})]


@pytest.mark.parametrize(("path", "params"), ROUTES)
def test_an_unknown_brand_is_a_422_naming_the_configured_ones(loaded, path, params):
    response = loaded.get(path, params={"brand": "Nope", **params})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "brand"] and error["type"] == "unknown_brand"
    assert error["msg"] == "unknown brand 'Nope'; configured brands: Nimbus, Voltra"


@pytest.mark.parametrize(("path", "params"), ROUTES)
def test_a_configured_brand_in_any_case_is_answered(loaded, path, params):
    assert loaded.get(path, params={"brand": "nimbus", **params}).status_code == 200


def test_any_case_finds_the_same_posts(loaded):
    def ids(brand: str) -> list[str]:
        return [p["id"] for p in loaded.get("/v1/posts", params={"brand": brand}).json()["items"]]
    assert ids("voltra") == ids("VOLTRA") == ids("Voltra") and ids("Voltra")


def test_a_brand_only_in_stored_posts_still_filters(loaded, engine):
    # A brand taken out of the configuration keeps the posts collected for it.
    engine.store.save_posts([(Post(source="test", native_id="old", text="Orbit ring is nice",
                                   created_at=datetime.now(UTC), brands=["Orbit"]), [])])
    response = loaded.get("/v1/posts", params={"brand": "orbit"})
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["items"]] == ["test:old"]


@pytest.mark.parametrize("brand", ["", "%20Nimbus", "Nimbus%3BVoltra", "x" * 5000,
                                   "%ED%A0%80", "%00", "%FF"])  # a lone surrogate, NUL, not UTF-8
def test_odd_brands_are_a_short_422(loaded, brand):
    response = loaded.get(f"/v1/posts?brand={brand}")
    assert response.status_code == 422
    assert len(response.content) < 1000  # the input is never echoed at length


def test_every_brand_given_is_checked(loaded):
    response = loaded.get("/v1/posts", params=[("brand", "Nimbus"), ("brand", "Nope")])
    assert response.status_code == 422 and "'Nope'" in response.text

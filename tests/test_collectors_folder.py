"""The watched drop folder: import-format files are collected, then moved out of the way."""

import json
import os
import time

import pytest

from collectors.folder import FolderCollector
from data import queries
from data.store import Store
from subtext import jobs
from subtext.config import Brand
from tests.fixtures.servers import png

BRANDS = (Brand("Nimbus", "nimbus OR 云朵"), Brand("Voltra", "voltra OR 伏特拉"))
ROWS = [
    {"id": "w1", "text": "云朵手机的客服真是“高效”，等了三天 🙂", "lang": "zh",
     "image": "shots/panda.png", "created_at": "2026-11-04T08:00:00Z"},
    {"id": "w2", "text": "Voltra X2 arrived today", "likes": "many"},  # a bad row
    {"id": "w3", "text": "Voltra X2 arrived today", "author": "dee"},
    {"id": "w4", "text": "nothing about phones"},
]


@pytest.fixture
def drop(tmp_path):
    folder = tmp_path / "drop"
    (folder / "shots").mkdir(parents=True)
    (folder / "shots" / "panda.png").write_bytes(png("white"))
    return folder


def write(folder, name, rows, age_s=60.0):
    path = folder / name
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                    encoding="utf-8")
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def collect(store, collector):
    return jobs.collect(store, "drop", collector, BRANDS[0], BRANDS, every_seconds=60)


def test_dropped_files_are_collected_and_moved_to_done(store, drop):
    write(drop, "weibo-export.jsonl", ROWS)
    (drop / "posts.csv").write_text("id,text,images\nc1,Nimbus fan club meets Friday,\n",
                                    encoding="utf-8")
    os.utime(drop / "posts.csv", (time.time() - 60, time.time() - 60))
    collector = FolderCollector("drop", drop, settle_s=1)
    result = collect(store, collector)
    assert (result.fetched, result.matched, result.new, result.errors) == (5, 3, 3, 1)
    assert "weibo-export.jsonl line 2: likes" in queries.list_runs(store)[0]["last_error"]
    zh = queries.get_post(store, "drop:w1")  # the folder's name is the posts' source
    assert zh["brands"] == ["Nimbus"] and len(zh["images"]) == 1  # path relative to the file
    assert queries.get_post(store, "drop:w3")["brands"] == ["Voltra"]
    assert sorted(p.name for p in (drop / "done").iterdir()) == ["posts.csv",
                                                                  "weibo-export.jsonl"]
    assert collect(store, collector).fetched == 0  # nothing left to read
    collector.close()


def test_a_file_still_being_written_waits(store, drop):
    write(drop, "fresh.jsonl", ROWS, age_s=0)
    collector = FolderCollector("drop", drop, settle_s=30)
    assert collect(store, collector).fetched == 0
    assert (drop / "fresh.jsonl").exists()
    collector.close()


def test_a_crash_mid_file_rereads_it_without_duplicates(tmp_path, drop, monkeypatch):
    write(drop, "big.jsonl", ROWS)
    collector = FolderCollector("drop", drop, page_rows=1, settle_s=1)
    with Store.open(tmp_path / "db") as store:
        real, calls = store.save_posts, []

        def dies_on_the_third_page(batch, cursor=None):
            calls.append(1)
            if len(calls) == 3:
                raise OSError("disk full")
            return real(batch, cursor=cursor)

        monkeypatch.setattr(store, "save_posts", dies_on_the_third_page)
        assert collect(store, collector) is None
        assert queries.counts(store)["posts"] == 1 and (drop / "big.jsonl").exists()
        monkeypatch.setattr(store, "save_posts", real)
        again = collect(store, collector)
        assert (again.matched, again.new) == (2, 1)  # w1 was stored: skipped, not doubled
        assert queries.counts(store)["posts"] == 2
        assert not (drop / "big.jsonl").exists()
    collector.close()


def test_the_folder_must_exist(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        FolderCollector("drop", tmp_path / "missing")

"""Tiny deterministic analyzers for the Ray runner tests: importable by Ray workers (they
import tests.ray_analyzers through PYTHONPATH), instant where the lite models would be slow."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from analysis.verdict import Verdict


class Echo:
    """A verdict that names its post: the explanation is the post text."""

    name, version = "echo", "1"

    def __init__(self, marks: str | None = None, delay_s: float = 0.0):
        self.marks, self.delay_s = Path(marks) if marks else None, delay_s

    def analyze(self, items):
        texts = [item.text for item in items]
        batch = uuid.uuid4().hex
        self._mark("start", batch, texts)  # a test can kill this process mid-batch
        time.sleep(self.delay_s)
        verdicts = [Verdict(label="negative" if "bad" in t else "positive",
                            sentiment="negative" if "bad" in t else "positive",
                            sarcasm=False, sarcasm_score=0.0, emotion="neutral",
                            emotions={"neutral": 1.0}, confidence=0.9, explanation=t,
                            analyzer="echo@1") for t in texts]
        self._mark("done", batch, texts)
        return verdicts

    def _mark(self, event: str, batch: str, texts: list[str]) -> None:
        if self.marks is not None:
            path = self.marks / f"{event}-{os.getpid()}-{batch}"
            path.with_suffix(".part").write_text(json.dumps(texts))
            path.with_suffix(".part").replace(path)


def marks(folder: Path, event: str) -> dict[str, tuple[int, list[str]]]:
    """{batch: (pid, texts)} of every batch that reached `event`."""
    out = {}
    for path in folder.glob(f"{event}-*"):
        if path.suffix != ".part":
            _, pid, batch = path.name.split("-")
            out[batch] = (int(pid), json.loads(path.read_text()))
    return out

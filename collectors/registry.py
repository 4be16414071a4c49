"""Which module serves which `kind` of source in the config."""

from __future__ import annotations

import inspect

from collectors.base import Collector
from collectors.replay import ReplayCollector

KINDS = {"replay": ReplayCollector}


def build_collector(name: str, kind: str, settings: dict) -> Collector:
    """Instantiate the collector of `kind`; raise ValueError naming a bad or missing setting."""
    cls = KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown source kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    params = inspect.signature(cls).parameters
    for key in settings:
        if key not in params or key in ("name", "now"):
            raise ValueError(f"unknown setting {key!r} for a {kind} source")
    try:
        return cls(name=name, **settings)
    except (TypeError, ValueError, OSError) as exc:
        raise ValueError(str(exc)) from None

"""The one config loader: a TOML file (subtext.toml) read into typed, validated settings.

A bad file fails at start with the file, the key and the reason (ConfigError). Secrets never
live here: they come from SUBTEXT_* environment variables where a source needs them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "data" / "demo" / "subtext.toml"


class ConfigError(ValueError):
    """A config problem, naming the file, the key and the reason."""

    def __init__(self, file: str | Path, key: str, reason: str):
        self.file, self.key, self.reason = str(file), key, reason
        super().__init__(f"{file}: [{key}] {reason}")


@dataclass(frozen=True)
class Brand:
    name: str
    query: str
    competitors: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    every_seconds: int = 300
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Analysis:
    backend: str = "lite"
    batch_size: int = 64
    every_seconds: int = 5


@dataclass(frozen=True)
class Alerts:
    sarcasm_threshold: float = 0.6  # sarcasm_score at or above which a sarcastic verdict counts
    negative_threshold: float = 0.55  # confidence at or above which a negative intent counts
    every_seconds: int = 15


@dataclass(frozen=True)
class Config:
    path: Path | None
    data_dir: Path
    api_host: str = "127.0.0.1"
    api_port: int = 8765
    dashboard_port: int = 8501
    brands: tuple[Brand, ...] = ()
    sources: tuple[Source, ...] = ()
    analysis: Analysis = Analysis()
    alerts: Alerts = Alerts()

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def is_demo(self) -> bool:
        return self.path == DEMO_CONFIG


BACKENDS = {"lite"}


def load(path: str | Path | None = None, data_dir: str | Path | None = None) -> Config:
    """Read the config at `path` (the bundled demo when None). `data_dir` (the --data-dir
    option) beats SUBTEXT_DATA_DIR, which beats [storage] data_dir, which defaults to ./var/."""
    file = Path(path) if path else DEMO_CONFIG
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(file, "-", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, "-", f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "-", f"not valid TOML: {exc}") from None
    return _parse(file, raw, data_dir)


def _parse(file: Path, raw: dict, data_dir_option: str | Path | None) -> Config:
    r = _Reader(file)
    r.only(raw, "", {"storage", "api", "dashboard", "brands", "sources", "analysis", "alerts"})
    storage, api, dash = (r.table(raw, k) for k in ("storage", "api", "dashboard"))
    r.only(storage, "storage", {"data_dir"})
    r.only(api, "api", {"host", "port"})
    r.only(dash, "dashboard", {"port"})
    configured = r.get(storage, "storage.data_dir", str, "./var")
    data_dir = Path(data_dir_option or os.environ.get("SUBTEXT_DATA_DIR") or configured)
    brands = tuple(_brand(r, b, i) for i, b in enumerate(r.array(raw, "brands")))
    sources = tuple(_source(r, s, i) for i, s in enumerate(r.array(raw, "sources")))
    _unique(r, "brands", [b.name for b in brands])
    _unique(r, "sources", [s.name for s in sources])
    return Config(
        path=file,
        data_dir=data_dir,
        api_host=r.get(api, "api.host", str, "127.0.0.1"),
        api_port=r.port(api, "api.port", 8765),
        dashboard_port=r.port(dash, "dashboard.port", 8501),
        brands=brands,
        sources=sources,
        analysis=_analysis(r, r.table(raw, "analysis")),
        alerts=_alerts(r, r.table(raw, "alerts")),
    )


def _brand(r: _Reader, b: Any, i: int) -> Brand:
    key = f"brands[{i}]"
    b = r.expect(b, key, dict)
    r.only(b, key, {"name", "query", "competitors", "languages"})
    name = r.required(b, f"{key}.name", str)
    return Brand(
        name=name,
        query=r.get(b, f"{key}.query", str, name),
        competitors=tuple(r.get(b, f"{key}.competitors", list, [])),
        languages=tuple(r.get(b, f"{key}.languages", list, [])),
    )


def _source(r: _Reader, s: Any, i: int) -> Source:
    key = f"sources[{i}]"
    s = r.expect(s, key, dict)
    kind = r.required(s, f"{key}.kind", str)
    settings = {k: v for k, v in s.items() if k not in {"name", "kind", "every_seconds"}}
    return Source(
        name=r.get(s, f"{key}.name", str, kind),
        kind=kind,
        every_seconds=r.positive(s, f"{key}.every_seconds", 300),
        settings=settings,
    )


def _analysis(r: _Reader, a: dict) -> Analysis:
    r.only(a, "analysis", {"backend", "batch_size", "every_seconds"})
    backend = r.get(a, "analysis.backend", str, "lite")
    if backend not in BACKENDS:
        raise ConfigError(r.file, "analysis.backend", f"unknown backend {backend!r}; known: "
                          + ", ".join(sorted(BACKENDS)))
    return Analysis(backend, r.positive(a, "analysis.batch_size", 64),
                    r.positive(a, "analysis.every_seconds", 5))


def _alerts(r: _Reader, a: dict) -> Alerts:
    r.only(a, "alerts", {"sarcasm_threshold", "negative_threshold", "every_seconds"})
    return Alerts(r.fraction(a, "alerts.sarcasm_threshold", 0.6),
                  r.fraction(a, "alerts.negative_threshold", 0.55),
                  r.positive(a, "alerts.every_seconds", 15))


def _unique(r: _Reader, key: str, names: list[str]) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise ConfigError(r.file, key, f"name {name!r} is used twice")
        seen.add(name)


class _Reader:
    """Typed access to the parsed TOML that raises ConfigError with the dotted key."""

    def __init__(self, file: Path):
        self.file = file

    def expect(self, value: Any, key: str, kind: type) -> Any:
        # bool is an int in Python; a port of `true` is still a mistake.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise ConfigError(self.file, key, f"expected {_kind_name(kind)}, "
                              f"got {type(value).__name__} {value!r}")
        return value

    def get(self, table: dict, key: str, kind: type, default: Any) -> Any:
        leaf = key.rsplit(".", 1)[-1]
        return self.expect(table[leaf], key, kind) if leaf in table else default

    def required(self, table: dict, key: str, kind: type) -> Any:
        if key.rsplit(".", 1)[-1] not in table:
            raise ConfigError(self.file, key, "is required")
        return self.get(table, key, kind, None)

    def table(self, raw: dict, key: str) -> dict:
        return self.expect(raw.get(key, {}), key, dict)

    def array(self, raw: dict, key: str) -> list:
        return self.expect(raw.get(key, []), key, list)

    def only(self, table: dict, where: str, allowed: set[str]) -> None:
        for k in table:
            if k not in allowed:
                raise ConfigError(self.file, f"{where}.{k}" if where else k,
                                  "unknown key; expected one of " + ", ".join(sorted(allowed)))

    def positive(self, table: dict, key: str, default: int) -> int:
        value = self.get(table, key, int, default)
        if value <= 0:
            raise ConfigError(self.file, key, f"must be positive, got {value}")
        return value

    def port(self, table: dict, key: str, default: int) -> int:
        value = self.get(table, key, int, default)
        if not 0 < value < 65536:
            raise ConfigError(self.file, key, f"not a TCP port: {value}")
        return value

    def fraction(self, table: dict, key: str, default: float) -> float:
        value = self.get(table, key, (int, float), default)
        if not 0.0 <= value <= 1.0:
            raise ConfigError(self.file, key, f"must be between 0 and 1, got {value}")
        return float(value)


def _kind_name(kind: type | tuple) -> str:
    names = {str: "a string", int: "an integer", list: "an array", dict: "a table"}
    if isinstance(kind, tuple):
        return "a number"
    return names.get(kind, kind.__name__)

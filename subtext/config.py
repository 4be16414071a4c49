"""The one config loader: a TOML file (subtext.toml) read into typed, validated settings.

A bad file fails at start with the file, the key and the reason (ConfigError). Secrets never
live here: they come from SUBTEXT_* environment variables where a source needs them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.settings import AlertSettings
from alerts.settings import parse as parse_alerts
from analysis.verdict import EMOTIONS, SENTIMENTS
from collectors.query import check as check_query

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
    # lite: which posts get the embedding heads (the slow, better part): always | auto | never
    embed: str = "always"
    # lite, embed = "auto": posts whose P(the encoders change the verdict) is at least this
    # (0..1, analysis/gate.py) get the encoders; None keeps the shipped gate's threshold.
    # Lower: more posts, slower, better.
    auto_threshold: float | None = None
    # lite, embed = "always": while more posts than this wait, the engine's analyze job lets
    # the auto gate choose which posts get the encoders, so a burst is caught up with sooner
    # (evidence.hurried marks them; they are read again in full once nothing waits); 0 = never
    backlog_auto: int = 1000
    # lite: the share of sarcastic posts this deployment expects (fusion's odds shift), 0..1
    sarcasm_prior: float = 0.35
    # lite: "minilm" (frozen e5 heads + English MiniLM) | "e5" (one fine-tuned e5, opt-in)
    text_encoder: str = "minilm"
    # The transformers backends (vlm, text-hf); lite ignores these.
    model: str = ""  # vlm: a hub id (read from the local cache only) or a local directory
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
    dtype: str = "auto"  # auto (bf16/fp16 on CUDA, fp32 on CPU) | bfloat16 | float16 | float32
    max_image_side: int = 512  # images are downscaled to this for the VLM: the speed knob
    max_new_tokens: int = 256  # bounds each VLM answer
    load_in_4bit: bool = False  # vlm: bitsandbytes 4-bit weights (CUDA only)
    sentiment_model: str = "cardiffnlp/twitter-xlm-roberta-base-sentiment"  # text-hf
    irony_model: str = "cardiffnlp/twitter-roberta-base-irony"  # text-hf; "" to skip
    emotion_model: str = "j-hartmann/emotion-english-distilroberta-base"  # text-hf; "" to skip
    # text-hf: {role: {model label: our label}} for models whose labels are not ours
    label_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    # Where batches run: "local" (this process) or "ray" (an actor pool on a Ray cluster).
    runner: str = "local"
    ray_address: str = ""  # ray: auto | host:port | ray://host:10001 | local (a private Ray)
    ray_concurrency: tuple[int, int] = (1, 2)  # ray: actors in the pool, min and max
    ray_num_cpus: float = 1.0  # ray: CPUs each actor reserves
    ray_num_gpus: float = 0.0  # ray: GPUs each actor reserves (vlm, text-hf on CUDA)


@dataclass(frozen=True)
class Alerts:
    sarcasm_threshold: float = 0.6  # sarcasm_score at or above which a sarcastic verdict counts
    negative_threshold: float = 0.55  # confidence at or above which a negative intent counts
    every_seconds: int = 15
    # Every rule's thresholds (defaults and per brand) and the delivery channels.
    settings: AlertSettings = AlertSettings()


@dataclass(frozen=True)
class Config:
    path: Path | None
    data_dir: Path
    api_host: str = "127.0.0.1"
    api_port: int = 8765
    dashboard_port: int = 8501
    # access control (subtext/access.py): Host names the API answers to (empty: loopback
    # names and the bind host), whether loopback callers need a token too, the body cap
    api_allowed_hosts: tuple[str, ...] = ()
    api_require_token: bool = False
    api_max_body_mb: int = 32
    dashboard_session_minutes: int = 480
    dashboard_timezone: str = "UTC"  # the zone the dashboard shows times in (IANA name)
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


BACKENDS = {"lite", "vlm", "text-hf"}
DEVICES = re.compile(r"auto|cpu|cuda(:\d+)?")
DTYPES = ("auto", "bfloat16", "float16", "float32")
EMBED_MODES = ("always", "auto", "never")
TEXT_ENCODERS = ("minilm", "e5")
# text-hf label maps: which of our labels each model role may map its labels to.
LABEL_TARGETS = {"sentiment": SENTIMENTS, "irony": ("sarcastic", "not_sarcastic"),
                 "emotion": EMOTIONS}


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
    r.only(api, "api", {"host", "port", "allowed_hosts", "require_token", "max_body_mb"})
    r.only(dash, "dashboard", {"port", "session_minutes", "timezone"})
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
        api_allowed_hosts=_names(r, api, "api.allowed_hosts"),
        api_require_token=r.get(api, "api.require_token", bool, False),
        api_max_body_mb=r.between(api, "api.max_body_mb", 32, 1, 1024,
                                  "the largest request body the API reads"),
        dashboard_session_minutes=r.between(dash, "dashboard.session_minutes", 480, 1,
                                            30 * 24 * 60, "a login lasts this long"),
        dashboard_timezone=_timezone(r, dash),
        brands=brands,
        sources=sources,
        analysis=_analysis(r, r.table(raw, "analysis")),
        alerts=_alerts(r, r.table(raw, "alerts"), {b.name for b in brands}),
    )


def _names(r: _Reader, table: dict, key: str) -> tuple[str, ...]:
    names = r.get(table, key, list, [])
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(r.file, f"{key}[{i}]", f"expected a host name, got {name!r}")
    return tuple(n.strip().lower() for n in names)


def _timezone(r: _Reader, dash: dict) -> str:
    name = r.get(dash, "dashboard.timezone", str, "UTC")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(r.file, "dashboard.timezone",
                          f"unknown time zone {name!r} (an IANA name such as "
                          "'Europe/Berlin' or 'Asia/Shanghai')") from None
    return name


def _brand(r: _Reader, b: Any, i: int) -> Brand:
    key = f"brands[{i}]"
    b = r.expect(b, key, dict)
    r.only(b, key, {"name", "query", "competitors", "languages"})
    name = r.required(b, f"{key}.name", str)
    query = r.get(b, f"{key}.query", str, f'"{name}"')
    if problem := check_query(query):
        raise ConfigError(r.file, f"{key}.query", problem)
    return Brand(
        name=name,
        query=query,
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
    r.only(a, "analysis", {"backend", "batch_size", "every_seconds", "embed", "auto_threshold",
                           "backlog_auto", "model", "device",
                           "dtype", "sarcasm_prior", "text_encoder",
                           "max_image_side", "max_new_tokens", "load_in_4bit",
                           "sentiment_model", "irony_model", "emotion_model", "label_maps",
                           "runner", "ray_address", "ray_concurrency", "ray_num_cpus",
                           "ray_num_gpus"})
    backend = r.get(a, "analysis.backend", str, "lite")
    if backend not in BACKENDS:
        raise ConfigError(r.file, "analysis.backend", f"unknown backend {backend!r}; known: "
                          + ", ".join(sorted(BACKENDS)))
    default = Analysis()
    model = r.get(a, "analysis.model", str, "")
    if backend == "vlm" and not model.strip():
        raise ConfigError(r.file, "analysis.model", "is required for backend 'vlm': a hub id "
                          "or a local directory holding the model")
    device = r.get(a, "analysis.device", str, "auto")
    if not DEVICES.fullmatch(device):
        raise ConfigError(r.file, "analysis.device",
                          f"expected auto, cpu, cuda or cuda:N, got {device!r}")
    embed = r.get(a, "analysis.embed", str, "always")
    if embed not in EMBED_MODES:
        raise ConfigError(r.file, "analysis.embed",
                          f"expected one of {', '.join(EMBED_MODES)}, got {embed!r}")
    text_encoder = r.get(a, "analysis.text_encoder", str, "minilm")
    if text_encoder not in TEXT_ENCODERS:
        raise ConfigError(r.file, "analysis.text_encoder",
                          f"expected one of {', '.join(TEXT_ENCODERS)}, got {text_encoder!r}")
    dtype = r.get(a, "analysis.dtype", str, "auto")
    if dtype not in DTYPES:
        raise ConfigError(r.file, "analysis.dtype",
                          f"expected one of {', '.join(DTYPES)}, got {dtype!r}")
    return Analysis(
        backend=backend,
        # A VLM batch holds every image and answer in GPU memory: smaller by default.
        batch_size=r.positive(a, "analysis.batch_size", 8 if backend == "vlm" else 64),
        every_seconds=r.positive(a, "analysis.every_seconds", 5),
        embed=embed,
        auto_threshold=_auto_threshold(r, a),
        backlog_auto=_backlog_auto(r, a),
        sarcasm_prior=_sarcasm_prior(r, a, default.sarcasm_prior),
        text_encoder=text_encoder,
        model=model.strip(),
        device=device,
        dtype=dtype,
        max_image_side=r.between(a, "analysis.max_image_side", 512, 64, 512,
                                 "images are stored at 512 px at most"),
        max_new_tokens=r.between(a, "analysis.max_new_tokens", 256, 32, 2048,
                                 "longer answers only cost time"),
        load_in_4bit=_load_in_4bit(r, a),
        sentiment_model=_model_id(r, a, "sentiment_model", default.sentiment_model, True),
        irony_model=_model_id(r, a, "irony_model", default.irony_model, False),
        emotion_model=_model_id(r, a, "emotion_model", default.emotion_model, False),
        label_maps=_label_maps(r, r.table(a, "label_maps") if "label_maps" in a else {}),
        **_runner(r, a),
    )


RUNNERS = ("local", "ray")
RAY_ADDRESS = re.compile(r"auto|local|(ray://)?([\w.\-]+|\[[0-9a-fA-F:]+\]):\d{1,5}")


def _runner(r: _Reader, a: dict) -> dict:
    """[analysis] runner and its ray_* keys; the ray ones are checked only for runner = ray."""
    runner = r.get(a, "analysis.runner", str, "local")
    if runner not in RUNNERS:
        raise ConfigError(r.file, "analysis.runner",
                          f"expected one of {', '.join(RUNNERS)}, got {runner!r}")
    address = r.get(a, "analysis.ray_address", str, "").strip()
    if runner == "ray":
        check_ray_address(r.file, address)
    concurrency = a.get("ray_concurrency", [1, 2])
    if isinstance(concurrency, int) and not isinstance(concurrency, bool):
        concurrency = [concurrency, concurrency]
    whole = isinstance(concurrency, list) and len(concurrency) == 2 and all(
        isinstance(n, int) and not isinstance(n, bool) for n in concurrency)
    if not whole or not 1 <= concurrency[0] <= concurrency[1]:
        raise ConfigError(r.file, "analysis.ray_concurrency", "expected a positive integer or "
                          f"[min, max] with 1 <= min <= max, got {concurrency!r}")
    cpus = r.get(a, "analysis.ray_num_cpus", (int, float), 1.0)
    gpus = r.get(a, "analysis.ray_num_gpus", (int, float), 0.0)
    for key, value in (("ray_num_cpus", cpus), ("ray_num_gpus", gpus)):
        if value < 0:
            raise ConfigError(r.file, f"analysis.{key}", f"must not be negative, got {value}")
    return {"runner": runner, "ray_address": address,
            "ray_concurrency": (concurrency[0], concurrency[1]),
            "ray_num_cpus": float(cpus), "ray_num_gpus": float(gpus)}


def check_ray_address(file: str | Path, address: str) -> None:
    """runner = ray needs an address; an empty one never starts a Ray of its own."""
    if not RAY_ADDRESS.fullmatch(address):
        got = f"got {address!r}" if address else "it is empty"
        raise ConfigError(file, "analysis.ray_address", "runner 'ray' needs the cluster's "
                          "address: auto (the cluster this machine joined), host:port, "
                          f"ray://host:10001, or local to start a private Ray here; {got}")
def _sarcasm_prior(r: _Reader, a: dict, default: float) -> float:
    value = a.get("sarcasm_prior", default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ConfigError(r.file, "analysis.sarcasm_prior",
                          f"expected a share between 0 and 1 (e.g. 0.2), got {value!r}")
    return float(value)


def _backlog_auto(r: _Reader, a: dict) -> int:
    value = r.get(a, "analysis.backlog_auto", int, Analysis.backlog_auto)
    if value < 0:
        raise ConfigError(r.file, "analysis.backlog_auto",
                          f"must be 0 (off) or a number of waiting posts, got {value}")
    return value


def _auto_threshold(r: _Reader, a: dict) -> float | None:
    if "auto_threshold" not in a:
        return None  # the shipped heads' own
    return r.fraction(a, "analysis.auto_threshold", 0.0)


def _load_in_4bit(r: _Reader, a: dict) -> bool:
    wanted = r.get(a, "analysis.load_in_4bit", bool, False)
    missing = [m for m in ("bitsandbytes", "accelerate") if importlib.util.find_spec(m) is None]
    if wanted and missing:
        raise ConfigError(r.file, "analysis.load_in_4bit", "needs " + " and ".join(missing)
                          + " installed (pip install " + " ".join(missing) + ")")
    return wanted


def _model_id(r: _Reader, a: dict, leaf: str, default: str, required: bool) -> str:
    value = r.get(a, f"analysis.{leaf}", str, default).strip()
    if required and not value:
        raise ConfigError(r.file, f"analysis.{leaf}", "must name a model (hub id or directory)")
    return value


def _label_maps(r: _Reader, maps: dict) -> dict[str, dict[str, str]]:
    r.only(maps, "analysis.label_maps", set(LABEL_TARGETS))
    out = {}
    for role, table in maps.items():
        key = f"analysis.label_maps.{role}"
        table = r.expect(table, key, dict)
        for model_label, ours in table.items():
            ours = r.expect(ours, f"{key}.{model_label}", str)
            if ours not in LABEL_TARGETS[role]:
                raise ConfigError(r.file, f"{key}.{model_label}", f"{ours!r} is not one of "
                                  + ", ".join(LABEL_TARGETS[role]))
        out[role] = dict(table)
    return out


def _alerts(r: _Reader, a: dict, brand_names: set[str]) -> Alerts:
    settings = parse_alerts(r, a, brand_names)  # checks every key of [alerts]
    return Alerts(settings.defaults.sarcasm_threshold, settings.defaults.negative_threshold,
                  r.positive(a, "alerts.every_seconds", 15), settings)


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

    def between(self, table: dict, key: str, default: int, low: int, high: int,
                why: str) -> int:
        value = self.get(table, key, int, default)
        if not low <= value <= high:
            raise ConfigError(self.file, key, f"must be between {low} and {high} ({why}), "
                              f"got {value}")
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

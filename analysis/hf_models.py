"""Loading transformers models the Subtext way: offline, once, lazily, and freed on shutdown.

- `model` is a local directory or a Hugging Face hub id. A hub id is only read from the local
  cache: nothing downloads at run time, and a missing model fails with the command that
  fetches it (`ModelNotAvailable`).
- `device` "auto" picks CUDA when present; "cuda" without a GPU is an error, not a silent CPU
  run. `dtype` "auto" is bf16 (fp16 on GPUs without bf16) on CUDA and fp32 on the CPU.
- `Lazy` builds its value on first use under a lock (the engine's scheduler thread and the API
  may ask at once) and `close()` drops it and returns the GPU memory to the driver.
"""

from __future__ import annotations

import gc
import importlib.util
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import torch

from analysis.base import ModelNotAvailable

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def not_cached_message(model: str) -> str:
    folder = "models/" + model.rsplit("/", 1)[-1]
    return (f"model {model!r} is not in the local cache; download it on a connected machine "
            f"with `hf download {model} --local-dir {folder}` (huggingface_hub < 1.0: "
            f"`huggingface-cli download {model} --local-dir {folder}`; or python -c "
            f"\"from huggingface_hub import snapshot_download; "
            f"snapshot_download('{model}', local_dir='{folder}')\"), copy the folder here and "
            f"point `model` at the directory")


def locate(model: str) -> Path:
    """The directory holding `model`: itself when it is a directory, else the hub cache's
    snapshot of that id. Never downloads."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    if path.is_absolute() or model.startswith((".", "~")) or model.count("/") > 1:
        raise ModelNotAvailable(f"model directory {model!r} does not exist")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model, local_files_only=True))
    except (LocalEntryNotFoundError, ValueError) as exc:  # ValueError: not a valid repo id
        raise ModelNotAvailable(not_cached_message(model)) from exc


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelNotAvailable(f"device {device!r} was asked for, but torch sees no CUDA GPU "
                                f"(torch {torch.__version__}); use device = \"auto\" or \"cpu\"")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype != "auto":
        return DTYPES[dtype]
    if device.type != "cuda":
        return torch.float32  # half precision on the CPU is slow or unsupported for many ops
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def placement(device: torch.device, dtype: torch.dtype, load_in_4bit: bool) -> dict:
    """from_pretrained keyword arguments that put the weights on `device` in `dtype`.
    With accelerate installed the weights load straight onto the device; without it they
    load on the CPU and move (the caller calls .to(device) when "device_map" is absent)."""
    kwargs: dict = {"dtype": dtype}
    if load_in_4bit:
        missing = [m for m in ("bitsandbytes", "accelerate") if not _installed(m)]
        if missing:
            raise ModelNotAvailable("analysis.load_in_4bit needs " + " and ".join(missing)
                                    + " installed (pip install " + " ".join(missing) + ")")
        if device.type != "cuda":
            raise ModelNotAvailable("analysis.load_in_4bit needs a CUDA GPU (bitsandbytes)")
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype)
    if _installed("accelerate"):
        kwargs["device_map"] = {"": str(device)}
    return kwargs


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def place(model: torch.nn.Module, kwargs: dict, device: torch.device) -> torch.nn.Module:
    """Move a model loaded without a device map onto its device, in eval mode."""
    if "device_map" not in kwargs:
        model = model.to(device)
    return model.eval()


T = TypeVar("T")


@dataclass
class LoadInfo:
    model: str
    path: str
    device: str
    dtype: str
    load_s: float


class Lazy(Generic[T]):
    """A value built once on first `get()`, thread-safely; `close()` frees it."""

    def __init__(self, build: Callable[[], T]):
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()
        self.load_s: float | None = None

    def get(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    start = time.perf_counter()
                    self._value = self._build()
                    self.load_s = round(time.perf_counter() - start, 3)
        return self._value

    @property
    def loaded(self) -> bool:
        return self._value is not None

    def close(self) -> None:
        with self._lock:
            self._value = None
        free_memory()


def free_memory() -> None:
    """Return cached GPU memory to the driver once the models are unreferenced."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()

"""Data-only messages between the trusted grader and a sandboxed worker.

A frame is ``>II`` (JSON length, blob length), a UTF-8 JSON header, then an optional
safetensors blob holding every tensor the header refers to. Values are encoded as JSON
with a few tagged forms (``$tensor``, ``$tuple``, ...); nothing is ever pickled, so a
malicious worker can only send data that the trusted side decodes strictly.

This module is imported on both sides and, inside the worker, on its own: it must depend
on nothing but the standard library, NumPy, torch and safetensors.
"""

from __future__ import annotations

import json
import math
import os
import select
import struct
import time
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

HEADER = struct.Struct(">II")
MAX_JSON = 16 * 1024 * 1024   # values of any size travel as tensors; JSON is for the rest
DEFAULT_MAX_BLOB = 1024 * 1024 * 1024


class WireError(ValueError):
    """A frame or value that does not follow the protocol."""


class WireTimeout(Exception):
    """The other side stopped reading or writing a frame before the deadline."""


class Handle:
    """A reference to an object that stays inside the worker."""

    __slots__ = ("hid", "type_name")

    def __init__(self, hid: int, type_name: str = "") -> None:
        self.hid = int(hid)
        self.type_name = str(type_name)

    def __repr__(self) -> str:
        return f"<remote {self.type_name or 'object'} #{self.hid}>"


# --------------------------------------------------------------------------- encoding


class Encoder:
    """Turns a Python value into (json, tensors).

    ``on_other`` decides what happens to values that are not data: the worker turns them
    into handles, the trusted side into callbacks or errors.
    """

    def __init__(self, on_other=None) -> None:
        self.tensors: dict[str, torch.Tensor] = {}
        self.on_other = on_other

    def _tensor(self, t: torch.Tensor) -> str:
        key = f"t{len(self.tensors)}"
        plain = t.detach()
        if type(plain) is not torch.Tensor:
            plain = plain.as_subclass(torch.Tensor)
        if plain.is_sparse or plain.is_quantized or plain.is_complex():
            raise WireError(f"tensors of layout {plain.layout} / dtype {plain.dtype} are not supported")
        self.tensors[key] = plain.to("cpu").clone().contiguous()
        return key

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > 64:
            raise WireError("value nested too deeply")
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and type(value) in (int, bool):
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, Handle):
            return {"$handle": value.hid}
        if isinstance(value, torch.Tensor):
            return {"$tensor": self._tensor(value)}
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                raise WireError("object arrays are not supported")
            return {"$ndarray": self._tensor(torch.from_numpy(np.array(value, order="C", copy=True)))}
        if isinstance(value, np.generic):
            item = value.item()
            if isinstance(item, float) and not math.isfinite(item):
                item = {"$float": repr(item)}
            return {"$npscalar": str(value.dtype), "value": item}
        if isinstance(value, torch.dtype):
            return {"$dtype": str(value).removeprefix("torch.")}
        if isinstance(value, torch.device):
            return {"$device": str(value)}
        # Subclasses (namedtuple, OrderedDict, torch.Size) travel as the plain container,
        # read through the base type's own methods so an override cannot interfere.
        if isinstance(value, tuple):
            return {"$tuple": [self.encode(v, depth + 1) for v in tuple.__iter__(value)]}
        if isinstance(value, list):
            return [self.encode(v, depth + 1) for v in list.__iter__(value)]
        if isinstance(value, dict):
            return {"$dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                              for k, v in dict.items(value)]}
        if self.on_other is not None:
            return self.on_other(value)
        raise WireError(f"cannot send a value of type {type(value).__name__}")


# --------------------------------------------------------------------------- decoding

_INT_TYPES = (bool, int)
# Only these may be named by the other side: a name is never looked up on a module.
_DTYPES = {str(d).removeprefix("torch."): d for d in vars(torch).values() if isinstance(d, torch.dtype)}
_NP_KINDS = "biuf"   # numeric NumPy scalars only (a "V2147483647" void would reserve 2 GiB)


class Decoder:
    """Strictly turns (json, tensors) back into Python values."""

    def __init__(self, tensors: dict[str, torch.Tensor], on_handle=None, on_callback=None) -> None:
        self.tensors = tensors
        self.on_handle = on_handle or (lambda hid, tname: Handle(hid, tname))
        self.on_callback = on_callback

    def decode(self, obj: Any, depth: int = 0) -> Any:
        if depth > 64:
            raise WireError("value nested too deeply")
        if obj is None or isinstance(obj, (str, float, *_INT_TYPES)):
            return obj
        if isinstance(obj, list):
            return [self.decode(v, depth + 1) for v in obj]
        if not isinstance(obj, dict) or len(obj) == 0:
            raise WireError("malformed value")
        if "$tensor" in obj:
            return self._tensor(obj["$tensor"])
        if "$ndarray" in obj:
            return self._tensor(obj["$ndarray"]).numpy()
        if "$tuple" in obj:
            return tuple(self.decode(v, depth + 1) for v in _as_list(obj["$tuple"]))
        if "$dict" in obj:
            out = {}
            for pair in _as_list(obj["$dict"]):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("malformed dict entry")
                key = self.decode(pair[0], depth + 1)
                try:
                    hash(key)
                except TypeError:
                    raise WireError("unhashable dict key") from None
                if not isinstance(key, (str, int, float, tuple, type(None))):
                    raise WireError("unhashable dict key")
                out[key] = self.decode(pair[1], depth + 1)
            return out
        if "$float" in obj:
            text = obj["$float"]
            if text not in ("nan", "inf", "-inf"):
                raise WireError("malformed float")
            return float(text)
        if "$npscalar" in obj:
            try:
                dtype = np.dtype(str(obj["$npscalar"]))
            except TypeError:
                raise WireError("unknown NumPy dtype") from None
            if dtype.kind not in _NP_KINDS:
                raise WireError(f"NumPy scalars of kind {dtype.kind!r} are not supported")
            value = obj.get("value")
            if isinstance(value, dict):
                value = self.decode(value, depth + 1)
            if not isinstance(value, (bool, int, float)):
                raise WireError("malformed NumPy scalar")
            try:
                return dtype.type(value)
            except (OverflowError, ValueError):
                raise WireError("NumPy scalar out of range") from None
        if "$dtype" in obj:
            dtype = _DTYPES.get(str(obj["$dtype"]))
            if dtype is None:
                raise WireError("unknown dtype")
            return dtype
        if "$device" in obj:
            try:
                return torch.device(str(obj["$device"]))
            except (RuntimeError, ValueError):
                raise WireError("malformed device") from None
        if "$handle" in obj:
            return self.on_handle(int(obj["$handle"]), str(obj.get("type", "")))
        if "$callback" in obj:
            if self.on_callback is None:
                raise WireError("callbacks are not accepted here")
            return self.on_callback(int(obj["$callback"]))
        raise WireError(f"unknown tag {sorted(obj)[:3]}")

    def _tensor(self, key: Any) -> torch.Tensor:
        if not isinstance(key, str) or key not in self.tensors:
            raise WireError("reference to a missing tensor")
        return self.tensors[key]


def _as_list(value: Any) -> list:
    if not isinstance(value, list):
        raise WireError("malformed sequence")
    return value


# --------------------------------------------------------------------------- frames


def pack(header: dict, tensors: dict[str, torch.Tensor] | None = None) -> bytes:
    body = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    blob = st_save(tensors) if tensors else b""
    return HEADER.pack(len(body), len(blob)) + body + blob


def _wait(fd: int, deadline: float | None, write: bool = False) -> None:
    """Block until ``fd`` is ready, or raise WireTimeout at ``deadline`` (time.monotonic)."""
    if deadline is None:
        return
    remaining = deadline - time.monotonic()
    ready = select.select([], [fd], [], max(0.0, remaining))[1] if write \
        else select.select([fd], [], [], max(0.0, remaining))[0]
    if not ready:
        raise WireTimeout("the other side stopped in the middle of a frame")


def _read_exact(fd: int, n: int, deadline: float | None = None) -> bytes:
    chunks = []
    while n:
        _wait(fd, deadline)
        try:
            chunk = os.read(fd, min(n, 1 << 20))
        except BlockingIOError:   # a non-blocking fd (the trusted side's) with nothing yet
            continue
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, max_blob: int = DEFAULT_MAX_BLOB, deadline: float | None = None,
               ) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read one frame; raise WireError on anything malformed or oversized.

    With a ``deadline`` (the trusted side always gives one) a peer that stops sending in the
    middle of a frame raises WireTimeout instead of blocking the reader forever.
    """
    n_json, n_blob = HEADER.unpack(_read_exact(fd, HEADER.size, deadline))
    if n_json > MAX_JSON or n_blob > max_blob:
        raise WireError(f"frame too large ({n_json} + {n_blob} bytes)")
    try:
        header = json.loads(_read_exact(fd, n_json, deadline))
    except RecursionError:
        raise WireError("JSON header nested too deeply") from None
    except ValueError as exc:   # bad UTF-8, bad JSON, an integer of thousands of digits
        raise WireError(f"malformed JSON header: {str(exc)[:200]}") from None
    if not isinstance(header, dict):
        raise WireError("header is not an object")
    tensors: dict[str, torch.Tensor] = {}
    if n_blob:
        blob = _read_exact(fd, n_blob, deadline)
        try:
            tensors = st_load(blob)
        except Exception as exc:
            raise WireError(f"malformed tensor blob: {exc}") from None
    return header, tensors


def write_frame(fd: int, data: bytes, deadline: float | None = None) -> None:
    """Write one frame; with a ``deadline``, a peer that stops reading raises WireTimeout.

    The deadline only holds on a non-blocking ``fd`` (the trusted side sets its ends so):
    a blocking write into a pipe with a little room left waits for the reader, forever.
    """
    view = memoryview(data)
    while view:
        _wait(fd, deadline, write=True)
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            continue
        view = view[n:]

"""What the call in flight may send and receive: its callbacks and writable arguments.

A trusted callable passed to a call (``numerical_gradient(f, param)``) travels as a
callback id, valid for that call alone; the worker may ask for it while the call runs.
Tensor arguments are copies on the worker's side; only a call made with ``sync=True``
lets the worker's in-place changes come back into them, and only into tensors of the same
shape and dtype. Anything else the worker sends back is a protocol violation.
"""

from __future__ import annotations

from typing import Any

import torch

from ..faults import ProtocolViolation
from . import wire
from .proxies import RemoteObject


class CallScope:
    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.callbacks: dict[int, Any] = {}
        self.next_id = 1
        self.targets: dict[str, Any] = {}

    def begin(self, args: tuple, kwargs: dict, sync: bool) -> None:
        """A new call: earlier callables expire; with ``sync`` its tensors may be written."""
        self.callbacks = {}
        self.targets = {}
        if sync:
            self.targets = {f"a{i}": a for i, a in enumerate(args)}
            self.targets.update({f"k:{k}": v for k, v in kwargs.items()})

    def end(self) -> None:
        self.targets = {}

    def encode(self, values: Any) -> tuple[Any, dict]:
        enc = wire.Encoder(on_other=self._encode_other)
        return enc.encode(values), enc.tensors

    def _encode_other(self, value: Any) -> dict:
        if isinstance(value, RemoteObject):
            if value._worker is not self.worker:
                raise wire.WireError("a remote object from another worker")
            return {"$handle": value._hid}
        if callable(value):
            cid = self.next_id
            self.next_id += 1
            self.callbacks[cid] = value
            return {"$callback": cid}
        raise wire.WireError(f"cannot send a value of type {type(value).__name__} to the worker")

    def answer_callback(self, reply: dict, decoder: wire.Decoder) -> tuple[dict, dict | None]:
        """Run a callable the trusted side passed to *this* call; the frame to send back.

        Before it runs, the call's writable arguments are updated with what the student
        changed (Python semantics: the callable sees those changes).
        """
        cid = reply.get("id")
        fn = self.callbacks.get(cid) if isinstance(cid, int) else None
        if fn is None:
            raise ProtocolViolation(f"the worker asked for a callback it was never given ({cid!r})")
        self.sync_back(decoder.decode(reply.get("sync", {"$dict": []})))
        try:
            args = decoder.decode(reply.get("args", []))
            kwargs = decoder.decode(reply.get("kwargs", {"$dict": []}))
            result = fn(*args, **kwargs)
            header, tensors = {"kind": "callback_result"}, None
            header["value"], tensors = self.encode(result)
        except Exception as exc:
            header, tensors = {"kind": "callback_error", "value": f"{type(exc).__name__}: {exc}"}, None
        return header, tensors

    def sync_back(self, values: Any) -> None:
        """Mirror in-place changes the student made to writable tensor arguments."""
        if values is None or values == {}:
            return
        if not isinstance(values, dict) or not set(values) <= set(self.targets):
            raise ProtocolViolation("the worker sent back values for arguments that this call "
                                    "did not ask to have updated")
        for key, new in values.items():
            old = self.targets.get(key)
            if isinstance(old, torch.Tensor) and isinstance(new, torch.Tensor) \
                    and old.shape == new.shape and old.dtype == new.dtype:
                with torch.no_grad():
                    old.copy_(new)

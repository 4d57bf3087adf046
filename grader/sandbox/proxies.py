"""Objects that stay in the worker, seen from the trusted side as read-only proxies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..faults import StudentError

if TYPE_CHECKING:
    from .client import Worker


class RemoteObject:
    """An object that lives in the worker (a model, a dataset, a loader...)."""

    def __init__(self, worker: Worker, hid: int, type_name: str = "") -> None:
        object.__setattr__(self, "_worker", worker)
        object.__setattr__(self, "_hid", hid)
        object.__setattr__(self, "_type_name", type_name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        reply, value = self._worker.request({"op": "getattr", "handle": self._hid, "name": name})
        if reply.get("kind") != "ok":
            err = reply.get("error") if isinstance(reply.get("error"), dict) else {}
            raise AttributeError(f"{self._type_name} has no attribute {name!r} ({err.get('message', '')})")
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("objects from the worker are read-only here")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._worker.call({"handle": self._hid}, args, kwargs)

    def __len__(self) -> int:
        try:
            return self._worker.builtin("len", self)
        except StudentError as exc:  # list() probes len() first and expects TypeError
            if exc.type == "TypeError":
                raise TypeError(exc.message) from None
            raise

    def __getitem__(self, key: Any) -> Any:
        return self._worker.call({"handle": self._hid, "attr": "__getitem__"}, (key,))

    def __iter__(self):
        return iter(self._worker.builtin("list", self))

    def __repr__(self) -> str:
        return f"<remote {self._type_name} #{self._hid}>"

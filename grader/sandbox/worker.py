"""The sandboxed worker: runs a student's notebook code and answers calls with data.

Started by the trusted client as ``python -s -B worker.py RFD WFD SETTINGS`` inside the sandbox
(``isolation``), next to nothing but its own files (``wire``, ``traps``, ``worker_builtins``). It never sees hidden tests, reference
solutions or held-out data; it only receives requests and returns values.

Requests (JSON header + tensors): ``exec`` (notebook cells), ``call``, ``getattr``,
``describe``, ``put``, ``stats``, ``ping``. Objects that are not data stay here and
travel as handles. While a call runs, the worker may send ``callback`` frames and wait
for their answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import traps
import wire
import worker_builtins as wb

SETTINGS: dict[str, Any] = {}
OUTPUT_CAP = 20_000


def configure(settings: str) -> None:
    """This worker's settings (``limits.worker_settings``), read once at start."""
    global OUTPUT_CAP
    SETTINGS.clear()
    SETTINGS.update(json.loads(settings) if settings else {})
    OUTPUT_CAP = int(SETTINGS.get("cell_output_chars") or 20_000)


class _NotDefined(Exception):
    """The notebook has no function or class of the name a call asked for."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class RequestLoop:
    """The worker's side of the protocol: read a request, answer it, wait for the next.

    (The trusted side's handle on this process is ``client.Worker``.)
    """

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.handles: dict[int, Any] = {}
        self.next_handle = 1
        self.sync_tensors: dict[str, Any] = {}
        self.rid: Any = None   # the request being answered: every frame we send carries it
        self.shell = None
        self.ns: dict[str, Any] = {"__name__": "__main__"}
        try:
            from IPython.core.interactiveshell import InteractiveShell

            self.shell = InteractiveShell.instance()
            # No display here: plotting magics become no-ops instead of errors.
            self.shell.register_magic_function(lambda line: None, "line", "matplotlib")
            self.shell.user_ns.update(self.ns)
            self.ns = self.shell.user_ns
        except Exception as exc:  # plain exec still runs ordinary Python cells
            print(f"IPython unavailable ({exc!r}); magics will not work", file=sys.stderr)
            self.shell = None

    # ------------------------------------------------------------------ encoding
    def keep(self, value: Any) -> wire.Handle:
        hid = self.next_handle
        self.next_handle += 1
        self.handles[hid] = value
        return wire.Handle(hid, wb.type_name(value))

    def encoder(self) -> wire.Encoder:
        return wire.Encoder(on_other=lambda v: {"$handle": self.keep(v).hid, "type": wb.type_name(v)})

    def send(self, header: dict, value: Any = None, *, as_handle: bool = False,
             extra: dict | None = None) -> None:
        enc = self.encoder()
        if as_handle and value is not None:
            h = self.keep(value)
            header["value"] = {"$handle": h.hid, "type": h.type_name}
        else:
            try:
                header["value"] = enc.encode(value)
            except wire.WireError as exc:
                header = {"kind": "error", "error": wb.error_dict(exc, "the return value")}
                enc = wire.Encoder()
        for key, val in (extra or {}).items():
            header[key] = enc.encode(val)
        header["rid"] = self.rid
        wire.write_frame(self.wfd, wire.pack(header, enc.tensors))

    def decoder(self, tensors: dict) -> wire.Decoder:
        return wire.Decoder(tensors, on_handle=lambda hid, _t: self.handles[hid],
                            on_callback=self.make_callback)

    # ------------------------------------------------------------------ callbacks
    def make_callback(self, cid: int):
        def remote(*args: Any, **kwargs: Any) -> Any:
            enc = self.encoder()
            header = {"kind": "callback", "id": cid, "rid": self.rid,
                      "args": enc.encode(list(args)), "kwargs": enc.encode(dict(kwargs)),
                      "sync": enc.encode(self._sync_values())}
            wire.write_frame(self.wfd, wire.pack(header, enc.tensors))
            reply, tensors = wire.read_frame(self.rfd)
            value = self.decoder(tensors).decode(reply.get("value"))
            if reply.get("kind") == "callback_error":
                raise RuntimeError(str(value))
            return value

        return remote

    def _sync_values(self) -> dict:
        return {key: t for key, t in self.sync_tensors.items()}

    # ------------------------------------------------------------------ requests
    def serve(self) -> None:
        while True:
            try:
                req, tensors = wire.read_frame(self.rfd)
            except EOFError:
                return
            self.rid = req.get("rid")
            op = req.get("op")
            try:
                handler = getattr(self, f"op_{op}")
            except AttributeError:
                self.send({"kind": "error", "error": {"type": "ProtocolError",
                                                     "message": f"unknown op {op!r}"}})
                continue
            try:
                handler(req, tensors)
            except _NotDefined as exc:   # a typed reply: the trusted side raises NotDefined
                self.send({"kind": "missing", "name": exc.name})
            except BaseException as exc:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)) and op != "call":
                    raise
                self.send({"kind": "error", "error": wb.error_dict(exc, op)})

    def op_ping(self, req: dict, tensors: dict) -> None:
        self.send({"kind": "ok"}, {"pid": os.getpid(), "shell": self.shell is not None})

    def op_exec(self, req: dict, tensors: dict) -> None:
        """Run notebook cells in order, recording each cell's outcome; never stop early."""
        results = []
        for cell in req["cells"]:
            results.append(self.run_cell(str(cell["source"])))
        self.send({"kind": "ok"}, results)

    def run_cell(self, source: str) -> dict:
        out, err = wb.CappedIO(OUTPUT_CAP), wb.CappedIO(OUTPUT_CAP)
        start = time.perf_counter()
        error = None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                if self.shell is not None:
                    result = self.shell.run_cell(source, store_history=False, silent=True)
                    exc = result.error_before_exec or result.error_in_exec
                    if exc is not None:
                        error = wb.error_dict(exc, "cell")
                else:
                    exec(compile(source, "<cell>", "exec"), self.ns)
            except BaseException as exc:
                error = wb.error_dict(exc, "cell")
        return {"ok": error is None, "error": error, "stdout": out.getvalue(),
                "stderr": err.getvalue(), "seconds": round(time.perf_counter() - start, 4)}

    def _target(self, spec: dict) -> Any:
        if "name" in spec:
            name = str(spec["name"])
            if name not in self.ns:
                raise _NotDefined(name)
            obj = self.ns[name]
        elif "builtin" in spec:
            obj = wb.BUILTINS[str(spec["builtin"])]
        else:
            obj = self.handles[int(spec["handle"])]
        if "attr" in spec:
            obj = getattr(obj, str(spec["attr"]))
        return obj

    def op_call(self, req: dict, tensors: dict) -> None:
        dec = self.decoder(tensors)
        args = dec.decode(req.get("args", []))
        kwargs = dec.decode(req.get("kwargs", {"$dict": []}))
        self.sync_tensors = {}
        if req.get("sync"):   # in-place changes to tensor arguments go back only when asked
            for i, a in enumerate(args):
                if wb.is_tensor(a):
                    self.sync_tensors[f"a{i}"] = a
            for k, a in kwargs.items():
                if wb.is_tensor(a):
                    self.sync_tensors[f"k:{k}"] = a
        fn = self._target(req["target"])
        wb.seed_all(req.get("seed"))
        grad = req.get("grad")
        import torch

        ctx = torch.no_grad() if grad is False else contextlib.nullcontext()
        out, err = wb.CappedIO(OUTPUT_CAP), wb.CappedIO(OUTPUT_CAP)
        start = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), ctx, \
                traps.enforced(req.get("rules") or ()) as broken:
            try:
                value = fn(*args, **kwargs)
            except BaseException as exc:  # the student's error is data too
                self.send({"kind": "raised", "error": wb.error_dict(exc, "call"),
                           "stdout": out.getvalue(), "stderr": err.getvalue(), "broken": broken})
                return
        seconds = time.perf_counter() - start
        sync = self._sync_values() if req.get("sync") else {}
        self.sync_tensors = {}
        self.send({"kind": "ok", "seconds": seconds, "stdout": out.getvalue(),
                   "stderr": err.getvalue(), "broken": broken}, value,
                  as_handle=bool(req.get("as_handle")), extra={"sync": sync})

    def op_getattr(self, req: dict, tensors: dict) -> None:
        obj = self.handles[int(req["handle"])]
        self.send({"kind": "ok"}, getattr(obj, str(req["name"])),
                  as_handle=bool(req.get("as_handle")))

    def op_put(self, req: dict, tensors: dict) -> None:
        value = self.decoder(tensors).decode(req.get("value"))
        self.send({"kind": "ok"}, value, as_handle=True)

    def op_stats(self, req: dict, tensors: dict) -> None:
        """Resource use so far (informational: the trusted side never scores it)."""
        import resource

        import torch

        stats = {"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            stats["cuda_max_reserved_mb"] = torch.cuda.max_memory_reserved() / 2**20
            stats["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
        self.send({"kind": "ok"}, stats)

    def op_describe(self, req: dict, tensors: dict) -> None:
        self.send({"kind": "ok"}, wb.describe(self.handles[int(req["handle"])]))


# ---------------------------------------------------------------------- helpers



def _limit_processes() -> None:
    """Cap processes and threads here, inside the user namespace, where the count is ours alone."""
    import resource

    cap = SETTINGS.get("max_processes")
    if cap:
        resource.setrlimit(resource.RLIMIT_NPROC, (int(cap), int(cap)))


def _forget_grader() -> None:
    """Drop import hooks that point at the grader's checkout (the sandbox does not bind it;
    without the sandbox this keeps ``import grader`` from finding it by accident)."""
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    for name in list(sys.modules):
        if name == "grader" or name.startswith("grader."):
            del sys.modules[name]


def _configure_torch() -> None:
    """Threads and the GPU memory share this worker was given."""
    import torch

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    fraction = SETTINGS.get("cuda_memory_fraction")
    if fraction and torch.cuda.is_available():
        torch.cuda.set_per_process_memory_fraction(float(fraction), 0)


def main(argv: list[str] | None = None) -> None:
    """``argv``: RFD WFD SETTINGS, from the command line or from the pre-forked parent
    (``zygote``), which has already imported everything this needs."""
    argv = sys.argv[1:] if argv is None else argv
    rfd, wfd = int(argv[0]), int(argv[1])
    configure(argv[2] if len(argv) > 2 else "")
    _limit_processes()
    _forget_grader()
    _configure_torch()
    worker = RequestLoop(rfd, wfd)
    worker.serve()
    os._exit(0)


if __name__ == "__main__":
    main()

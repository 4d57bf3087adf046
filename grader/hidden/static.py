"""Rules about *how* an answer is computed, checked on the submitted source's syntax tree.

The trusted side parses every student cell; nothing here executes it. A rule looks at what
the function under test runs (its body and the student's helpers it refers to, in any
cell), not at variable names or top-level self-checks. Names are resolved loosely on
purpose (``torch.autograd.grad``, ``from torch.autograd import grad``, ``x.backward()``
all count), so renaming an import does not slip past; code built at run time (``exec``,
``getattr`` with a computed name) is refused outright (``dynamic``), because no reading
of the text can say what it calls. The same rules are also enforced while the function
runs (``grader.sandbox.worker``'s traps), which is what a student who hides a call meets.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .program import Program, called, chain


@dataclass
class Finding:
    line: int
    what: str
    where: str = ""    # the student function the line belongs to, when it is not the one tested

    def __str__(self) -> str:
        return f"{self.what} ({self.where + ', ' if self.where else ''}line {self.line})"


def names_used(source: str | list[str], function: str | None = None) -> list[tuple[int, str]]:
    r"""(line, name) for every library name the code uses (see ``Program.references``).

    >>> names_used("import torch.nn.functional as F\ndef f(x):\n    convolution = x\n"
    ...            "    return F.conv2d(convolution, x)", "f")[-1]
    (4, 'torch.nn.functional.conv2d')
    """
    return sorted({(line, name) for line, name, _ in Program(source).references(function)})


def _matches(name: str, key: str) -> bool:
    parts, kparts = name.lstrip(".'=").split("."), key.split(".")
    n = len(kparts)
    return any(parts[i:i + n] == kparts for i in range(len(parts) - n + 1))


def forbidden(source: str | list[str], banned: dict[str, str], function: str | None = None,
              ) -> list[Finding]:
    r"""Findings for every banned name the code uses: a key matches when its dotted parts
    appear in a row inside a used name (``torch.autograd`` in ``torch.autograd.grad``,
    ``backward`` in ``loss.backward``, ``conv2d`` in ``getattr(F, "conv2d")``).

    With ``function``, only what that function runs counts (see ``Program``).

    >>> [f.what for f in forbidden("def f(x):\n    unfold = 2\n    return x.unfold(0, unfold, 1)",
    ...                            {"unfold": "unfold"}, "f")]
    ['unfold']
    >>> forbidden("def f(x):\n    unfold = 2\n    return x * unfold", {"unfold": "unfold"}, "f")
    []
    """
    findings = [Finding(line, what, where)
                for line, name, where in Program(source).references(function)
                for key, what in banned.items() if _matches(name, key)]
    return _dedupe(findings)


# Code built or looked up at run time: the rules above cannot see what it calls.
DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__", "globals", "locals", "vars",
                 "breakpoint", "importlib.import_module", "importlib.__import__",
                 "operator.attrgetter", "operator.methodcaller"}
DYNAMIC_NAMES = {"importlib", "__builtins__", "ctypes", "__dict__", "__getattribute__",
                 "__globals__", "__code__", "__subclasses__", "types.FunctionType",
                 "types.CodeType", "inspect", "marshal", "pickle", "_C", "__torch_function__",
                 "__torch_dispatch__", "_python_dispatch", "_disable_torch_function",
                 "torch.overrides", "TorchFunctionMode", "TorchDispatchMode"}


def dynamic(source: str | list[str]) -> list[Finding]:
    r"""Uses of code generated or names computed at run time, anywhere in the cells.

    >>> [f.what for f in dynamic("name = 'conv' + '2d'\nf = getattr(F, name)")]
    ['getattr with a name computed at run time']
    >>> dynamic("def f(m):\n    return getattr(m, 'weight')")
    []
    """
    program = Program(source)
    found: list[Finding] = []
    lookups = DYNAMIC_CALLS | {"getattr", "setattr", "delattr"}
    for tree in program.trees:
        callees = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        for node in ast.walk(tree):
            line = getattr(node, "lineno", 0)
            if isinstance(node, ast.Name) and node.id in lookups and id(node) not in callees \
                    and isinstance(node.ctx, ast.Load) and not program.defines(node.id):
                # reduce(getattr, names, torch): the lookup runs where no check can see it
                found.append(Finding(line, f"{node.id} passed as a value"))
            elif isinstance(node, ast.Call):
                name = called(node, program.aliases)
                # builtins.exec too; model.eval() is a method, not the builtin
                plain = name.removeprefix("builtins.")
                if plain in DYNAMIC_CALLS and not program.defines(name):
                    found.append(Finding(line, f"{name}()"))
                elif name in {"getattr", "hasattr", "setattr", "delattr"} and not program.defines(name) \
                        and not (len(node.args) > 1 and isinstance(node.args[1], ast.Constant)):
                    found.append(Finding(line, f"{name} with a name computed at run time"))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                module = getattr(node, "module", None) or ""
                for a in node.names:
                    full = f"{module}.{a.name}" if module else a.name
                    key = next((k for k in sorted(DYNAMIC_NAMES) if _matches(full, k)), None)
                    if key is not None:
                        found.append(Finding(line, key))
            elif isinstance(node, (ast.Attribute, ast.Name)):
                if isinstance(node, ast.Name):
                    if node.id in program.defs:
                        continue
                    names = [program.aliases.get(node.id, node.id)]
                else:
                    head, attrs = chain(node)
                    names = ["." + node.attr]
                    if head is not None:
                        names.append(".".join([program.aliases.get(head, head), *attrs]))
                for name in names:
                    key = next((k for k in sorted(DYNAMIC_NAMES) if _matches(name, k)), None)
                    if key is not None:
                        found.append(Finding(line, key))
                        break
    return _dedupe(found)


def loops(source: str | list[str], function: str | None = None) -> list[Finding]:
    """Python-level loops (for/while/comprehensions/map) in what the function runs."""
    program = Program(source)
    kinds = {ast.For: "a for loop", ast.AsyncFor: "a for loop", ast.While: "a while loop",
             ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
             ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression"}
    out = []
    for owner, root in program.reachable(function):
        where = "" if owner == function else owner
        for n in ast.walk(root):
            out.extend(Finding(n.lineno, what, where) for t, what in kinds.items() if isinstance(n, t))
            if isinstance(n, ast.Call) and called(n, program.aliases) in (
                    "map", "itertools.starmap", "functools.reduce"):
                out.append(Finding(n.lineno, f"a call to {called(n, program.aliases)}", where))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == owner:
                out.append(Finding(n.lineno, "recursion", where))
    return _dedupe(out)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in findings:
        if (f.line, f.what, f.where) not in seen:
            seen.add((f.line, f.what, f.where))
            out.append(f)
    return sorted(out, key=lambda f: (f.where, f.line))


def summary(findings: list[Finding], limit: int = 3) -> str:
    parts = [str(f) for f in findings[:limit]]
    more = f" and {len(findings) - limit} more" if len(findings) > limit else ""
    return ", ".join(parts) + more


AUTOGRAD = {
    "backward": "autograd (.backward)",
    "torch.autograd": "torch.autograd",
    "autograd.grad": "torch.autograd.grad",
    "requires_grad": "requires_grad",
    "requires_grad_": "requires_grad_",
    "enable_grad": "torch.enable_grad",
    "torch.func": "torch.func",
    "functorch": "functorch",
    "vjp": "a vector-Jacobian product helper",
    "jacobian": "a Jacobian helper",
}

LIBRARY_CONVOLUTION = {
    "conv2d": "a library convolution (conv2d)",
    "Conv2d": "nn.Conv2d",
    "conv1d": "a library convolution (conv1d)",
    "convolution": "a library convolution",
    "unfold": "unfold",
    "Unfold": "nn.Unfold",
    "correlate": "a library correlation",
    "correlate2d": "scipy.signal.correlate2d",
    "convolve": "a library convolution",
    "convolve2d": "a library convolution",
    "as_strided": "as_strided",
    "sliding_window_view": "sliding_window_view",
}

LIBRARY_BROADCAST = {
    "broadcast_shapes": "torch/np.broadcast_shapes",
    "broadcast_tensors": "broadcast_tensors",
    "broadcast_to": "broadcast_to",
    "broadcast_arrays": "np.broadcast_arrays",
    "expand": ".expand",
    "expand_as": ".expand_as",
}

LIBRARY_POOLING = {
    "max_pool2d": "a library pooling function",
    "MaxPool2d": "nn.MaxPool2d",
    "adaptive_max_pool2d": "a library pooling function",
    "unfold": "unfold",
}

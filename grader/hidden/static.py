"""Rules about *how* an answer is computed, checked on the submitted source's syntax tree.

The trusted side parses the student's solution cell; nothing here executes it. Names are
resolved loosely on purpose (``torch.autograd.grad``, ``from torch.autograd import grad``,
``x.backward()`` all count), so renaming an import does not slip past.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass
class Finding:
    line: int
    what: str


def parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(_strip_magics(source))
    except SyntaxError:
        return None


def _strip_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> full dotted name, from the cell's imports."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def names_used(source: str) -> list[tuple[int, str]]:
    """Every dotted name, attribute and import target in the source, with its line."""
    tree = parse(source)
    if tree is None:
        return []
    aliases = _aliases(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)):
            dotted = _dotted(node)
            if dotted:
                head, _, rest = dotted.partition(".")
                full = aliases.get(head, head) + ("." + rest if rest else "")
                found.append((node.lineno, full))
            if isinstance(node, ast.Attribute):
                found.append((node.lineno, "." + node.attr))
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, "'" + node.value))  # getattr(torch, "conv2d")
        elif isinstance(node, ast.keyword) and node.arg:
            found.append((getattr(node.value, "lineno", 0), "=" + node.arg))
    return found


def forbidden(source: str, banned: dict[str, str]) -> list[Finding]:
    """Findings for every banned name: a key matches when its dotted parts appear in a row
    inside a used name (``torch.autograd`` in ``torch.autograd.grad``, ``backward`` in
    ``loss.backward``, ``conv2d`` in ``getattr(F, "conv2d")``)."""
    findings: list[Finding] = []
    for line, name in names_used(source):
        parts = name.lstrip(".'=").split(".")
        for key, what in banned.items():
            kparts = key.split(".")
            n = len(kparts)
            if any(parts[i:i + n] == kparts for i in range(len(parts) - n + 1)):
                findings.append(Finding(line, what))
    return _dedupe(findings)


def loops(source: str, function: str | None = None) -> list[Finding]:
    """Python-level loops (for/while/comprehensions/recursion-free map) in the code."""
    tree = parse(source)
    if tree is None:
        return []
    scope: ast.AST = tree
    if function:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
                scope = node
                break
    kinds = {ast.For: "a for loop", ast.AsyncFor: "a for loop", ast.While: "a while loop",
             ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
             ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression"}
    out = [Finding(n.lineno, what) for n in ast.walk(scope) for t, what in kinds.items()
           if isinstance(n, t)]
    for n in ast.walk(scope):
        if isinstance(n, ast.Call) and _dotted(n.func) in ("map", "itertools.starmap", "functools.reduce"):
            out.append(Finding(n.lineno, f"a call to {_dotted(n.func)}"))
    return _dedupe(out)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in findings:
        if (f.line, f.what) not in seen:
            seen.add((f.line, f.what))
            out.append(f)
    return sorted(out, key=lambda f: f.line)


def summary(findings: list[Finding], limit: int = 3) -> str:
    parts = [f"{f.what} (line {f.line})" for f in findings[:limit]]
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

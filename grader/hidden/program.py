"""A notebook's student cells as one program: imports, definitions, what a function reaches.

The static rules (``static``) ask it which library names a function uses. It parses the
cells and never runs them. What a function "runs" is its body and, transitively, the
student's helpers, classes and module-level aliases it names, in any cell; a name bound
inside the function (a local variable, a parameter) is the student's, never a library's.
"""

from __future__ import annotations

import ast


def parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(_strip_magics(source))
    except SyntaxError:
        return None


def _strip_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def chain(node: ast.Attribute) -> tuple[str | None, list[str]]:
    """``a.b.c`` -> ("a", ["b", "c"]); a head that is not a name (a call, a subscript) is None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return (node.id if isinstance(node, ast.Name) else None), list(reversed(parts))


def _locals(fn: ast.AST) -> set[str]:
    """Names bound inside a function (parameters, assignments, loop and ``with`` targets)."""
    out: set[str] = set()
    declared_global: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            a = node.args
            out.update(x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs])
            out.update(x.arg for x in (a.vararg, a.kwarg) if x is not None)
            if node is not fn and not isinstance(node, ast.Lambda):
                out.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
        elif isinstance(node, ast.Global):
            declared_global.update(node.names)
    return out - declared_global


_NAME_ARG = {"getattr", "hasattr", "setattr", "delattr", "operator.attrgetter",
             "operator.methodcaller"}


class Program:
    """Every student cell of a notebook, parsed once.

    Rules about *how* are about the code a function actually runs: its own body and,
    transitively, the student's helpers, classes and module-level aliases it refers to, in
    any cell. A self-check at the top of a cell, or a local variable that happens to be
    called ``convolution``, is not a call of anything.
    """

    def __init__(self, sources: list[str] | str) -> None:
        sources = [sources] if isinstance(sources, str) else list(sources)
        self.trees = [t for t in (parse(s) for s in sources) if t is not None]
        self.aliases: dict[str, str] = {}        # local name -> full dotted name (imports)
        self.defs: dict[str, list[ast.AST]] = {}  # module-level name -> what defines it
        self.own_attributes: set[str] = set()    # attributes the student's code assigns
        for tree in self.trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for a in node.names:
                        self.aliases[a.asname or a.name.split(".")[0]] = (
                            a.name if a.asname else a.name.split(".")[0])
                elif isinstance(node, ast.ImportFrom) and node.module:
                    for a in node.names:
                        self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    self.own_attributes.add(node.attr)
            for stmt in tree.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    self.defs.setdefault(stmt.name, []).append(stmt)
                elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and stmt.value:
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                    for t in targets:
                        for n in ast.walk(t):
                            if isinstance(n, ast.Name):
                                self.defs.setdefault(n.id, []).append(stmt.value)
        for name in self.defs:           # a student definition shadows an import of that name
            self.aliases.pop(name, None)

    def defines(self, name: str) -> bool:
        return name in self.defs

    def reachable(self, function: str | None) -> list[tuple[str, ast.AST]]:
        """(owner, node) for the function and everything of the student's it refers to;
        ``None``: every cell whole."""
        if function is None:
            return [("", t) for t in self.trees]
        seen, out, todo = set(), [], [function]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for node in self.defs.get(name, []):
                out.append((name, node))
                todo.extend(n for n in self._student_names(node) if n not in seen)
        return out

    def _student_names(self, node: ast.AST) -> set[str]:
        local = _locals(node) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else set()
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
                and isinstance(n.ctx, ast.Load) and n.id in self.defs and n.id not in local}

    def references(self, function: str | None) -> list[tuple[int, str, str]]:
        """(line, name, owner) for every library name the reachable code uses.

        Names come out resolved through the imports (``F.conv2d`` -> ``torch.nn.functional.
        conv2d``), attributes as ``.attr`` (``x.unfold`` -> ``.unfold``), keywords as ``=kw``
        (``requires_grad=True``), and constant names given to getattr as ``.name``.
        """
        out: list[tuple[int, str, str]] = []
        for owner, root in self.reachable(function):
            local = _locals(root) if isinstance(root, (ast.FunctionDef, ast.AsyncFunctionDef)) else set()
            where = "" if owner == function else owner
            for node in ast.walk(root):
                line = getattr(node, "lineno", 0)
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    if node.id in local or node.id in self.defs:
                        continue
                    out.append((line, self.aliases.get(node.id, node.id), where))
                elif isinstance(node, ast.Attribute):
                    head, attrs = chain(node)
                    if node.attr not in self.own_attributes:
                        out.append((line, "." + node.attr, where))
                    if head is not None and head not in local and head not in self.defs:
                        out.append((line, ".".join([self.aliases.get(head, head), *attrs]), where))
                elif isinstance(node, ast.keyword) and node.arg:
                    out.append((getattr(node.value, "lineno", line), "=" + node.arg, where))
                elif isinstance(node, ast.ImportFrom) and node.module:
                    out.extend((line, f"{node.module}.{a.name}", where) for a in node.names)
                elif isinstance(node, ast.Import):
                    out.extend((line, a.name, where) for a in node.names)
                elif isinstance(node, ast.Call) and called(node, self.aliases) in _NAME_ARG:
                    names = [a for a in node.args if isinstance(a, ast.Constant)
                             and isinstance(a.value, str)]
                    out.extend((line, "." + a.value, where) for a in names)
                elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                        and isinstance(node.slice.value, str):
                    out.append((line, "." + node.slice.value, where))   # vars(torch)["conv2d"]
        return out


def called(call: ast.Call, aliases: dict[str, str]) -> str:
    f = call.func
    if isinstance(f, ast.Name):
        return aliases.get(f.id, f.id)
    if isinstance(f, ast.Attribute):
        head, attrs = chain(f)
        return ".".join([aliases.get(head, head) if head else "?", *attrs])
    return ""

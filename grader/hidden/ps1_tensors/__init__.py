"""Hidden tests for ps1_tensors: shapes, broadcasting, reductions and views."""

from __future__ import annotations

from . import arithmetic, batches, shapes

# The order in which the grader runs and reports the tests: the notebook's order.
TESTS = [*shapes.TESTS, *arithmetic.TESTS, *batches.TESTS]

# Rules on *how*, enforced while these functions run (sandbox.traps).
RULES = {"broadcast_shape": ("broadcast",), "pairwise_sq_dists": ("cdist",)}

# The demo's partial student (``python -m grader demo``): exact substitutions on the
# reference answers, a few plausible mistakes.
DEMO_MISTAKES = {
    "mul_and_matmul": [("return m1 * m2, m1 @ m2", "return m1 * m2, m1 * m2")],
    "take_columns": [("t[:, start:stop]", "t[:, start:stop + 1]")],
}

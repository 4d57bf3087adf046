"""Hidden tests for ps2_gradients: linear regression, hand-derived gradients, gradient descent.

Every student call that can fail on one input is made per case, so a bug that only shows
for some shapes (``X * W`` instead of ``X @ W`` works for one feature) costs those cases,
not the whole test, and the message can still name the mistake seen on the others.
Expected values come from the reference (``ctx.ref``), from autograd run here in the
trusted process, or from a plain re-implementation (``_simulate`` in ``descent.py``), which
also recognises the usual mistakes (cost recorded after the update, no ``zero_grad``, ...).
"""

from __future__ import annotations

from . import descent, gradients, model, numerical

# The order in which the grader runs and reports the tests: the notebook's order.
TESTS = [*model.TESTS, *gradients.TESTS, *numerical.TESTS, *descent.TESTS]

# Rules on *how*, enforced while these functions run (sandbox.traps).
RULES = {"mse_gradients": ("autograd",), "gradient_descent": ("autograd",)}

# The demo's partial student (``python -m grader demo``): the lecture's summed gradient
# instead of the mean.
DEMO_MISTAKES = {
    "mse_gradients": [("(2.0 / m) * ", "2.0 * ")],
}

"""Hidden tests for ps3_backprop: XOR with a two-layer network and hand-written backprop.

Gradients are checked against autograd of the mean binary cross-entropy, computed here on
the trusted side; trained parameters are evaluated here with the reference forward pass.
"""

from __future__ import annotations

from . import activations, backward, loss, network, training

# The order in which the grader runs and reports the tests: the notebook's order.
TESTS = [*activations.TESTS, *network.TESTS, *loss.TESTS, *backward.TESTS, *training.TESTS]

# Rules on *how*, enforced while these functions run (sandbox.traps).
RULES = {"sigmoid": ("sigmoid",), "backward": ("autograd",), "train_xor": ("autograd",)}

# Functions whose every call (public test or hidden) runs under a CPU budget derived from the
# reference's cost of the same call (api.Budgets), and what to check when one runs out.
BUDGETS = {"train_xor": "a run that never reaches a low loss keeps restarting (check that "
                        "forward and backward pass their tests), or each step does much more "
                        "work than it needs"}

# The demo's partial student (``python -m grader demo``): the hidden layer's sigmoid
# derivative forgotten.
DEMO_MISTAKES = {
    "backward": [("d_z1 = d_a1 * a1 * (1.0 - a1)", "d_z1 = d_a1")],
}

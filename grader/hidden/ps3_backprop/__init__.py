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

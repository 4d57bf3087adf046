"""Hidden tests for ps5_mnist_cnn: convolution and pooling by hand, the CNN, training."""

from __future__ import annotations

from . import by_hand, model, training
from .model import MAX_PARAMETERS
from .training import THRESHOLD_TEST

# The order in which the grader runs and reports the tests: the notebook's order.
TESTS = [*by_hand.TESTS, *model.TESTS, *training.TESTS]

# Rules on *how*, enforced while these functions run (sandbox.traps).
RULES = {"conv2d_single": ("convolution",), "max_pool2d_single": ("pooling",),
         "avg_pool2d_single": ("pooling", "convolution")}

__all__ = ["MAX_PARAMETERS", "RULES", "TESTS", "THRESHOLD_TEST"]

# The demo's partial student (``python -m grader demo``): padding counted once.
DEMO_MISTAKES = {
    "conv_output_size": [("return (in_size + 2 * padding - kernel_size) // stride + 1",
                          "return (in_size + padding - kernel_size) // stride + 1")],
}

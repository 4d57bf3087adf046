"""Hidden tests for ps4_modules: nn.Module, Dataset, DataLoader, a training loop, softmax and
cross-entropy by hand, accuracy, a validation split and validation after every epoch.

Models, datasets and loaders stay in the worker and come back as handles (``ctx.worker.holds``):
their structure is read with ``ctx.worker.describe``, their weights are set through
``load_state_dict`` with the keys of their own ``state_dict``, and every number they
produce is compared on the trusted side with the reference run here.

``train_regression`` is checked on a plain ``nn.Linear`` and a ``DataLoader`` built in the
worker from the notebook's locked setup cell (``nn``, ``TensorDataset``, ``DataLoader``),
so a mistake in the student's model class or ``make_loader`` costs points only there.
"""

from __future__ import annotations

from . import classifier, data, fit, regression_model, softmax_ce, split, training

# The order in which the grader runs and reports the tests: the notebook's order.
TESTS = [*regression_model.TESTS, *data.TESTS, *training.TESTS, *softmax_ce.TESTS,
         *classifier.TESTS, *split.TESTS, *fit.TESTS]

# Rules on *how*, enforced while these functions run (sandbox.traps).
RULES = {"softmax": ("softmax",), "cross_entropy": ("softmax",)}

# The demo's partial student (``python -m grader demo``): a model that returns (N,) not (N, 1).
DEMO_MISTAKES = {
    "MultivariateLinearRegressionModel": [("        return self.linear(x)\n",
                                           "        return self.linear(x).squeeze(-1)\n")],
}

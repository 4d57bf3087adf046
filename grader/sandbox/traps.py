"""Rules on *how*, enforced while the student's function runs (worker side).

The static rules (``grader.hidden.static``) read the text; a student who hides a call
(an alias built in another cell, a name computed at run time) meets these instead. While
a call made with ``rules`` runs, the worker watches every torch operation it executes:

* ``autograd``: gradients run switched off (``torch.no_grad``), and any operation that
  builds a graph anyway (a tensor that requires grad, ``backward``, ``autograd.grad``,
  ``requires_grad_``) breaks the rule;
* ``convolution``, ``pooling``, ``cdist``, ``sigmoid``, ``softmax``: the library's operators
  of any dimensionality, seen where every route to them meets (the aten operator:
  ``F.conv1d``, ``nn.Conv3d``, ``unfold``, ``as_strided`` all arrive as one of them;
  ``F.softmax``, ``Tensor.log_softmax``, ``nn.CrossEntropyLoss``, ``torch.distributions``
  too, so ``softmax`` needs no Python-level helper trapped);
* ``broadcast``: the library's shape-broadcasting helpers (torch and NumPy).

A trap raises ``RuleBroken`` inside the student's code and also records the breach, so
catching the exception does not hide it. This file runs inside the sandbox next to
``worker.py`` and imports nothing of the grader; what it reports is still the worker's
word, so the trusted side only ever takes points away on it, never gives them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

# aten operator names (``torch.ops.aten.<name>``, any overload) per rule.
OPERATORS = {
    "convolution": ("convolution", "_convolution", "conv1d", "conv2d", "conv3d", "conv_tbc",
                    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
                    "cudnn_convolution", "cudnn_convolution_transpose", "mkldnn_convolution",
                    "miopen_convolution", "slow_conv3d", "_slow_conv2d_forward",
                    "slow_conv_dilated2d", "slow_conv_dilated3d", "slow_conv_transpose2d",
                    "thnn_conv2d", "_nnpack_spatial_convolution", "im2col", "col2im", "unfold",
                    "as_strided", "_mkldnn_convolution"),
    "pooling": ("max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
                "max_pool2d_with_indices", "max_pool3d_with_indices", "adaptive_max_pool1d",
                "adaptive_max_pool2d", "adaptive_max_pool3d", "fractional_max_pool2d",
                "fractional_max_pool3d", "mkldnn_max_pool2d", "quantized_max_pool2d",
                "avg_pool1d", "avg_pool2d", "avg_pool3d", "_adaptive_avg_pool2d",
                "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
                "lp_pool2d", "im2col", "unfold", "as_strided"),
    "cdist": ("cdist", "_cdist_forward", "_euclidean_dist", "pdist", "_pdist_forward"),
    "sigmoid": ("sigmoid", "sigmoid_", "log_sigmoid_forward", "log_sigmoid", "special_expit"),
    "broadcast": ("expand", "broadcast_to", "broadcast_tensors"),
    # softmax and everything built on it: log-softmax, log-sum-exp (a cumulative one too),
    # the negative log-likelihood and cross-entropy losses, and fused attention (a softmax
    # of scores inside one kernel).
    "softmax": ("softmax", "_softmax", "_safe_softmax", "_masked_softmax", "_sparse_softmax",
                "special_softmax", "log_softmax", "_log_softmax", "_sparse_log_softmax",
                "special_log_softmax", "logsumexp", "special_logsumexp", "logcumsumexp",
                "_logcumsumexp", "nll_loss", "nll_loss_forward", "nll_loss2d",
                "nll_loss2d_forward", "nll_loss_nd", "cross_entropy_loss",
                "binary_cross_entropy", "binary_cross_entropy_with_logits",
                "scaled_dot_product_attention", "_scaled_dot_product_attention_math",
                "_scaled_dot_product_flash_attention",
                "_scaled_dot_product_flash_attention_for_cpu",
                "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
                "_scaled_dot_product_fused_attention_overrideable", "_native_multi_head_attention"),
}

# Python-level helpers replaced by a trap while the call runs: (module, attribute).
HELPERS = {
    "broadcast": (("torch", "broadcast_shapes"), ("torch.functional", "broadcast_shapes"),
                  ("torch", "broadcast_tensors"), ("torch", "broadcast_to"),
                  ("numpy", "broadcast_shapes"), ("numpy", "broadcast_arrays"),
                  ("numpy", "broadcast_to"), ("numpy", "broadcast")),
}

WHAT = {"autograd": "autograd", "convolution": "a library convolution",
        "pooling": "a library pooling operator", "cdist": "torch.cdist",
        "sigmoid": "a library sigmoid", "broadcast": "a library broadcasting helper",
        "softmax": "a library softmax, log-softmax, log-sum-exp or cross-entropy"}


class RuleBroken(RuntimeError):
    """Raised in the student's code where it used what its rule forbids."""


def _modes(rules: set[str], record):
    import torch
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode

    banned = {name: rule for rule in rules for name in OPERATORS.get(rule, ())}
    autograd_calls = {torch.Tensor.backward, torch.autograd.backward, torch.autograd.grad,
                      torch.Tensor.requires_grad_}

    class Operators(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            # Otherwise torch wraps __torch_dispatch__ in torch._disable_dynamo, whose first
            # call imports torch._dynamo: 1.5-2 s of every submission's first rule-checked
            # call, for nothing (nothing compiles this method).
            return False

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func.__name__.split(".")[0]
            if name in banned:
                record(banned[name], f"aten.{name}")
            return func(*args, **(kwargs or {}))

    class Graphs(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func in autograd_calls:
                record("autograd", getattr(func, "__name__", "autograd"))
            out = func(*args, **(kwargs or {}))
            if isinstance(out, torch.Tensor) and out.requires_grad:
                record("autograd", "a tensor that requires grad")
            return out

    modes = []
    if banned:
        modes.append(Operators())
    if "autograd" in rules:
        modes.append(Graphs())
    return modes


@contextlib.contextmanager
def enforced(rules: list[str] | tuple[str, ...]) -> Iterator[list[str]]:
    """Run the body under ``rules``; yields the list that collects each breach (as text)."""
    import importlib

    rules = {r for r in rules if r in WHAT}
    broken: list[str] = []

    def record(rule: str, what: str) -> None:
        text = f"{WHAT[rule]} ({what})"
        if text not in broken:
            broken.append(text)
        raise RuleBroken(f"the grader forbids {WHAT[rule]} here ({what})")

    saved = []
    for rule in rules:
        for module, attr in HELPERS.get(rule, ()):
            try:
                mod = importlib.import_module(module)
                saved.append((mod, attr, getattr(mod, attr)))
            except (ImportError, AttributeError):
                continue

            def trap(*args, _rule=rule, _what=f"{module}.{attr}", **kwargs):
                record(_rule, _what)

            setattr(mod, attr, trap)
    with contextlib.ExitStack() as stack:
        if "autograd" in rules:
            import torch

            stack.enter_context(torch.no_grad())
        for mode in _modes(rules, record) if rules else ():
            stack.enter_context(mode)
        try:
            yield broken
        finally:
            for mod, attr, value in saved:
                setattr(mod, attr, value)

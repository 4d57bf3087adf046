"""Wrong answers for ps1_tensors."""

from . import WrongAnswer

CASES = [
    WrongAnswer("take_columns_off_by_one", "take_columns", "stop is exclusive",
                subs=(("t[:, start:stop]", "t[:, start:stop + 1]"),)),
    WrongAnswer("mul_and_matmul_star_for_at", "mul_and_matmul", "the matrix product (@) is wrong",
                subs=(("return m1 * m2, m1 @ m2", "return m1 * m2, m1 * m2"),)),
    WrongAnswer("pairwise_with_loops", "pairwise_sq_dists", "contains a for loop",
                replace='''import torch

def pairwise_sq_dists(X, Y):
    out = torch.empty(X.shape[0], Y.shape[0], dtype=X.dtype)
    for i in range(X.shape[0]):
        for j in range(Y.shape[0]):
            out[i, j] = ((X[i] - Y[j]) ** 2).sum()
    return out
'''),
    WrongAnswer("reduce_mean_wrong_dim", "reduce_along", "is wrong for: mean",
                subs=(("mean = as_float.mean(dim=dim)", "mean = as_float.mean(dim=0)"),)),
    WrongAnswer("to_batches_copy", "to_batches", "returned a copy",
                subs=(("return data.view(n // batch_size, batch_size, *data.shape[1:])",
                       "return data.reshape(n // batch_size, batch_size, *data.shape[1:]).clone()"),)),
    WrongAnswer("broadcast_uses_library", "broadcast_shape", "used a library broadcasting helper",
                replace='''import torch

def broadcast_shape(shape_a, shape_b):
    return tuple(torch.broadcast_shapes(tuple(shape_a), tuple(shape_b)))
'''),
    WrongAnswer("one_hot_int64", "one_hot", "should return float32",
                subs=(("dtype=torch.float32)", "dtype=torch.int64)"),)),
    WrongAnswer("rank_and_shape_torch_size", "rank_and_shape", "should be a Python int",
                subs=(("shape = tuple(int(size) for size in t.shape)\n    return len(shape), shape",
                       "shape = tuple(int(size) for size in t.shape)\n    return float(len(shape)), shape"),)),
    # Rules and ValueErrors the text states (issue 12): each loses only its own test.
    WrongAnswer("broadcast_forgets_value_error", "broadcast_shape",
                "should raise ValueError when two aligned sizes differ",
                replace='''def broadcast_shape(shape_a, shape_b):
    a, b = [int(s) for s in shape_a], [int(s) for s in shape_b]
    n = max(len(a), len(b))
    a, b = [1] * (n - len(a)) + a, [1] * (n - len(b)) + b
    return tuple(x if y == 1 else y for x, y in zip(a, b))
'''),
    WrongAnswer("pairwise_uses_cdist", "pairwise_sq_dists", "while it ran it used torch.cdist",
                replace='''import torch

def pairwise_sq_dists(X, Y):
    return torch.cdist(X, Y) ** 2
'''),
    WrongAnswer("pairwise_uses_pairwise_distance", "pairwise_sq_dists",
                "without torch.cdist, torch.pdist or F.pairwise_distance, but it uses F.pairwise_distance",
                replace='''import torch.nn.functional as F

def pairwise_sq_dists(X, Y):
    return F.pairwise_distance(X[:, None, :], Y[None, :, :]) ** 2
'''),
    WrongAnswer("to_batches_forgets_divisibility", "to_batches",
                "N not divisible by batch_size",
                replace='''def to_batches(data, batch_size):
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return data.view(-1, batch_size, *data.shape[1:])
'''),
    WrongAnswer("to_batches_forgets_positive_batch_size", "to_batches",
                "should raise ValueError when batch_size is not a positive number",
                replace='''def to_batches(data, batch_size):
    n = data.shape[0]
    if n % batch_size != 0:
        raise ValueError(f"{n} samples do not split into batches of {batch_size}")
    return data.view(n // batch_size, batch_size, *data.shape[1:])
'''),
    WrongAnswer("one_hot_library_without_check", "one_hot",
                "should raise ValueError when a label is negative or not smaller than num_classes",
                replace='''import torch
import torch.nn.functional as F

def one_hot(labels, num_classes):
    return F.one_hot(labels.long(), num_classes).float()
'''),
    WrongAnswer("one_hot_forgets_range_check", "one_hot", "it returned a tensor",
                subs=(("if labels.numel() > 0 and (labels.min() < 0 or labels.max() >= num_classes):",
                       "if False:  # the labels are trusted"),)),
]

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
]

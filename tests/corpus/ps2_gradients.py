"""Wrong answers for ps2_gradients.

The later answers call the earlier ones (``mse_cost`` and ``mse_gradients`` call
``hypothesis``; ``gradient_descent`` calls ``mse_cost`` and ``mse_gradients``). The
whole-cell ``gradient_descent`` replacements compute the gradient inline, as many students
write it, so they stay meaningful even next to a broken ``mse_gradients``; the hidden
tests also name the mistake when several answers are wrong at once (every test has
one-feature inputs, on which ``X * W`` still works).
"""

from . import WrongAnswer

_GD_AUTOGRAD = '''import torch


def gradient_descent(X, y, lr, steps):
    W = torch.zeros(X.shape[1], 1, dtype=X.dtype, requires_grad=True)
    b = torch.zeros(1, dtype=X.dtype, requires_grad=True)
    costs = []
    for _ in range(steps):
        cost = torch.mean((X @ W + b - y) ** 2)
        costs.append(cost.item())
        cost.backward()
        with torch.no_grad():
            W -= lr * W.grad
            b -= lr * b.grad
            W.grad.zero_()
            b.grad.zero_()
    return W.detach(), b.detach(), costs
'''

_GD_START_AT_ONES = '''import torch


def gradient_descent(X, y, lr, steps):
    n = X.shape[0]
    W = torch.ones(X.shape[1], 1, dtype=X.dtype)
    b = torch.zeros(1, dtype=X.dtype)
    costs = []
    for _ in range(steps):
        residual = X @ W + b - y
        costs.append(torch.mean(residual ** 2).item())
        W = W - lr * (2 / n) * (X.T @ residual)
        b = b - lr * (2 / n) * residual.sum(dim=0)
    return W, b, costs
'''

_GD_TENSOR_COSTS = '''import torch


def gradient_descent(X, y, lr, steps):
    n = X.shape[0]
    W = torch.zeros(X.shape[1], 1, dtype=X.dtype)
    b = torch.zeros(1, dtype=X.dtype)
    costs = []
    for _ in range(steps):
        residual = X @ W + b - y
        costs.append(torch.mean(residual ** 2))
        W = W - lr * (2 / n) * (X.T @ residual)
        b = b - lr * (2 / n) * residual.sum(dim=0)
    return W, b, costs
'''

_MSE_GRADIENTS_AUTOGRAD = '''import torch


def mse_gradients(X, y, W, b):
    W = W.detach().clone().requires_grad_(True)
    b = b.detach().clone().requires_grad_(True)
    cost = torch.mean((hypothesis(X, W, b) - y) ** 2)
    cost.backward()
    return W.grad, b.grad
'''

CASES = [
    # ------------------------------------------------------------------ hypothesis
    WrongAnswer("hypothesis_star_for_matmul", "hypothesis", "matrix product X @ W",
                subs=(("return X @ W + b", "return X * W + b"),),
                notes="element-wise product: right for one feature only"),
    # ------------------------------------------------------------------ mse_cost
    WrongAnswer("mse_cost_shape_1", "mse_cost", "0-dim tensor",
                subs=(("return torch.mean((hypothesis(X, W, b) - y) ** 2)",
                       "return torch.mean((hypothesis(X, W, b) - y) ** 2, dim=0)"),),
                notes="a tensor of shape (1,) instead of a scalar tensor"),
    WrongAnswer("mse_cost_sum", "mse_cost", "sum instead of taking the mean",
                subs=(("return torch.mean(", "return torch.sum("),)),
    WrongAnswer("mse_cost_rmse", "mse_cost", "did you take the square root?",
                subs=(("return torch.mean((hypothesis(X, W, b) - y) ** 2)",
                       "return torch.sqrt(torch.mean((hypothesis(X, W, b) - y) ** 2))"),),
                notes="the root mean squared error instead of the MSE"),
    # ------------------------------------------------------------------ mse_gradients
    WrongAnswer("mse_gradients_autograd", "mse_gradients", "breaks its rule: while it ran it used autograd",
                replace=_MSE_GRADIENTS_AUTOGRAD,
                notes="right values, but by autograd: the no_grad call and the source rule"),
    WrongAnswer("mse_gradients_summed", "mse_gradients",
                "did you sum instead of averaging over the batch?",
                subs=(("(2.0 / m) * ", "2.0 * "),),
                notes="the gradient of the summed squared error"),
    WrongAnswer("mse_gradients_db_without_2", "mse_gradients",
                "db is half the right value: did you forget the factor 2",
                subs=(("db = (2.0 / m) * residual.sum(dim=0)", "db = residual.mean(dim=0)"),),
                notes="dW right, db missing the 2: half credit on db only"),
    WrongAnswer("mse_gradients_sign", "mse_gradients", "sign error",
                subs=(("residual = hypothesis(X, W, b) - y", "residual = y - hypothesis(X, W, b)"),)),
    WrongAnswer("mse_gradients_without_2", "mse_gradients", "forget the factor 2",
                subs=(("(2.0 / m) * ", "(1.0 / m) * "),),
                notes="the 1/(2m) convention's gradient for the 1/m cost"),
    # ------------------------------------------------------------------ numerical_gradient
    WrongAnswer("numerical_gradient_forward", "numerical_gradient", "one-sided difference",
                subs=(("param[index] = original - eps", "param[index] = original"),
                      ("(f_plus - f_minus) / (2 * eps)", "(f_plus - f_minus) / eps")),
                notes="forward differences: error of order eps"),
    WrongAnswer("numerical_gradient_divisor", "numerical_gradient", "divides by 2 * eps",
                subs=(("(f_plus - f_minus) / (2 * eps)", "(f_plus - f_minus) / eps"),)),
    WrongAnswer("numerical_gradient_not_restored", "numerical_gradient", "param was not restored",
                subs=(("param[index] = original  # restore exactly, even if f() raised", "pass"),)),
    WrongAnswer("numerical_gradient_ignores_eps", "numerical_gradient", "use the eps argument",
                subs=(("    grad = torch.zeros_like(param)\n",
                       "    grad = torch.zeros_like(param)\n    eps = 1e-4  # a good step size\n"),)),
    # ------------------------------------------------------------------ gradient_descent
    WrongAnswer("gradient_descent_cost_after_update", "gradient_descent", "cost before update k",
                subs=(("        costs.append(mse_cost(X, y, W, b).item())\n", ""),
                      ("        b = b - lr * db\n",
                       "        b = b - lr * db\n        costs.append(mse_cost(X, y, W, b).item())\n")),
                notes="the lecture's log prints the cost next to W, b after the step"),
    WrongAnswer("gradient_descent_autograd", "gradient_descent", "breaks its rule: while it ran it used autograd",
                replace=_GD_AUTOGRAD),
    WrongAnswer("gradient_descent_starts_at_ones", "gradient_descent", "start from",
                replace=_GD_START_AT_ONES),
    WrongAnswer("gradient_descent_tensor_costs", "gradient_descent", "Python float",
                replace=_GD_TENSOR_COSTS, notes="costs as 0-dim tensors (no .item())"),
    # ------------------------------------------------------------------ fit_with_autograd
    WrongAnswer("fit_with_autograd_no_zero_grad", "fit_with_autograd", "zero_grad",
                subs=(("        optimizer.zero_grad()\n", ""),),
                notes="gradients accumulate across steps"),
    WrongAnswer("fit_with_autograd_cost_after_step", "fit_with_autograd", "cost before update k",
                subs=(("        costs.append(cost.item())\n", ""),
                      ("        optimizer.step()\n",
                       "        optimizer.step()\n        costs.append(mse_cost(X, y, W, b).item())\n")),
                notes="the cost recorded after the step, as the lecture's log line seems to show"),
]

"""Wrong answers for ps3_backprop."""

from . import WrongAnswer

_AUTOGRAD_BACKWARD = '''import torch
import torch.nn.functional as F


def backward(X, y, params, cache):
    leaf = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    a1 = torch.sigmoid(X @ leaf["w1"] + leaf["b1"])
    y_pred = torch.sigmoid(a1 @ leaf["w2"] + leaf["b2"])
    loss = F.binary_cross_entropy(y_pred, y.reshape(y_pred.shape))
    loss.backward()
    return {k: leaf[k].grad for k in ("w1", "b1", "w2", "b2")}
'''

_WITH_TORCH_OPTIM = '''import torch
import torch.nn as nn


def train_xor(n_hidden=2, lr=1.0, steps=10000, seed=0):
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])
    for attempt in range(20):
        torch.manual_seed(seed + 1000 * attempt)
        model = nn.Sequential(nn.Linear(2, n_hidden), nn.Sigmoid(), nn.Linear(n_hidden, 1), nn.Sigmoid())
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        for _ in range(steps):
            optimizer.zero_grad()
            loss = nn.functional.binary_cross_entropy(model(X), y)
            loss.backward()
            optimizer.step()
        if loss.item() < 0.05:
            break
    return {"w1": model[0].weight.detach().T.clone(), "b1": model[0].bias.detach().clone(),
            "w2": model[2].weight.detach().T.clone(), "b2": model[2].bias.detach().clone()}
'''

CASES = [
    # --- sigmoid
    WrongAnswer("sigmoid_overflows", "sigmoid", "NaN or inf for large |z|",
                subs=(("return 1.0 / (1.0 + torch.exp(-z))",
                       "return torch.exp(z) / (1.0 + torch.exp(z))"),),
                notes="exp(1000) = inf and inf / inf = NaN"),
    WrongAnswer("sigmoid_library", "sigmoid", "used a library sigmoid",
                subs=(("return 1.0 / (1.0 + torch.exp(-z))", "return torch.sigmoid(z)"),)),
    # --- sigmoid_prime
    WrongAnswer("sigmoid_prime_of_z", "sigmoid_prime", "computes z * (1 - z)",
                subs=(("s = sigmoid(z)", "s = z"),),
                notes="uses the sigmoid's input where its output belongs"),
    # --- init_params
    WrongAnswer("init_params_ignores_seed", "init_params", "same parameters for different seeds",
                subs=(("g = torch.Generator().manual_seed(int(seed))",
                       "g = torch.default_generator"),),
                notes="draws from the global random state; the seed does nothing"),
    # --- forward
    WrongAnswer("forward_no_output_sigmoid", "forward", "apply the sigmoid to the output layer",
                subs=(("y_pred = sigmoid(z2)", "y_pred = z2"),)),
    # --- bce_loss
    WrongAnswer("bce_unclamped", "bce_loss", "clamp the predictions",
                subs=(("p = y_pred.clamp(eps, 1.0 - eps)", "p = y_pred"),),
                notes="the lecture's cost line: log(0) = -inf, 0 * -inf = NaN"),
    WrongAnswer("bce_sum", "bce_loss", "summed over the entries instead of averaged",
                subs=(("(1.0 - y) * torch.log(1.0 - p)).mean()",
                       "(1.0 - y) * torch.log(1.0 - p)).sum()"),)),
    # --- backward
    WrongAnswer("backward_autograd", "backward", "autograd", replace=_AUTOGRAD_BACKWARD),
    WrongAnswer("backward_lecture_mix", "backward", "did you sum over the batch instead of averaging",
                subs=(("d_z2 = (y_pred - y) / y_pred.numel()", "d_z2 = y_pred - y"),
                      ("d_b2 = d_z2.sum(dim=0)", "d_b2 = d_z2.mean(dim=0)"),
                      ("d_b1 = d_z1.sum(dim=0)", "d_b1 = d_z1.mean(dim=0)")),
                notes="the lecture's code: summed weight gradients, mean bias gradients"),
    WrongAnswer("backward_no_hidden_sigmoid_derivative", "backward",
                "missing the sigmoid derivative",
                subs=(("d_z1 = d_a1 * a1 * (1.0 - a1)", "d_z1 = d_a1"),)),
    WrongAnswer("backward_w2_transposed", "backward", "w2's gradient is transposed",
                subs=(("d_w2 = a1.T @ d_z2", "d_w2 = d_z2.T @ a1"),)),
    WrongAnswer("backward_b1_not_summed", "backward", "sum its gradient over the batch",
                subs=(("d_b1 = d_z1.sum(dim=0)", "d_b1 = d_z1"),)),
    WrongAnswer("backward_sigmoid_prime_of_a1", "backward",
                "sigmoid_prime to a1, which is already a sigmoid output",
                subs=(("d_z1 = d_a1 * a1 * (1.0 - a1)", "d_z1 = d_a1 * sigmoid_prime(a1)"),),
                notes="a1 is already sigma(z1); the derivative needs z1 or a1 * (1 - a1)"),
    WrongAnswer("backward_bias_mean_after_mean", "backward", "did you divide by N twice",
                subs=(("d_b2 = d_z2.sum(dim=0)", "d_b2 = d_z2.mean(dim=0)"),),
                notes="d_z2 already carries the 1/N of the mean; averaging again shrinks b2's step"),
    # --- train_xor
    WrongAnswer("train_xor_no_restarts", "train_xor", "got stuck",
                subs=(("max_attempts = 20", "max_attempts = 1"),),
                notes="seed 0 with two hidden units ends at ln 2 / 2 without a restart"),
    WrongAnswer("train_xor_too_few_steps", "train_xor", "should be below 0.05",
                subs=(("for _ in range(steps):", "for _ in range(steps // 20):"),)),
    WrongAnswer("train_xor_torch_optim", "train_xor", "used autograd", replace=_WITH_TORCH_OPTIM,
                notes="solves XOR, but with autograd and torch.optim instead of backward"),
]

"""Wrong answers for ps4_modules."""

from . import WrongAnswer

CASES = [
    # MultivariateLinearRegressionModel
    WrongAnswer("model_squeezes_output", "MultivariateLinearRegressionModel",
                "must keep the (N, 1) shape",
                subs=(("        return self.linear(x)\n", "        return self.linear(x).squeeze(-1)\n"),)),
    WrongAnswer("model_ignores_in_features", "MultivariateLinearRegressionModel",
                "build nn.Linear(in_features, 1) from the argument",
                subs=(("self.linear = nn.Linear(in_features, 1)", "self.linear = nn.Linear(3, 1)"),)),
    # ExamScoresDataset
    WrongAnswer("dataset_y_scalar", "ExamScoresDataset", "not a scalar",
                subs=(("self.y_data = y.reshape(len(y), -1).clone()",
                       "self.y_data = y.reshape(-1).clone()"),)),
    WrongAnswer("dataset_keeps_int_dtype", "ExamScoresDataset", "expected torch.float32",
                subs=(("x = torch.as_tensor(x_data, dtype=torch.float32)",
                       "x = torch.as_tensor(x_data)"),
                      ("y = torch.as_tensor(y_data, dtype=torch.float32)",
                       "y = torch.as_tensor(y_data)"))),
    # make_loader
    WrongAnswer("loader_ignores_seed", "make_loader", "two loaders made with the same seed",
                subs=(("shuffle=shuffle, generator=generator)", "shuffle=shuffle)"),)),
    WrongAnswer("loader_drops_last", "make_loader", "no example dropped",
                subs=(("shuffle=shuffle, generator=generator)",
                       "shuffle=shuffle, generator=generator, drop_last=True)"),)),
    # train_regression
    WrongAnswer("train_no_zero_grad", "train_regression", "optimizer.zero_grad()",
                subs=(("            optimizer.zero_grad()\n", ""),)),
    WrongAnswer("train_last_batch_loss", "train_regression", "you returned the last mini-batch's loss",
                subs=(('history.append(total / count if count else float("nan"))',
                       "history.append(cost.item())"),)),
    WrongAnswer("train_sums_batch_losses", "train_regression", "you summed the batch losses",
                subs=(("total += cost.item() * len(xb)", "total += cost.item()"),
                      ('history.append(total / count if count else float("nan"))',
                       "history.append(total)"))),
    WrongAnswer("train_unweighted_mean", "train_regression", "weighted by batch size",
                subs=(("total += cost.item() * len(xb)", "total += cost.item()"),
                      ("count += len(xb)", "count += 1"))),
    # softmax
    WrongAnswer("softmax_unstable", "softmax", "subtract each row's maximum",
                subs=(("    shifted = z - z.max(dim=-1, keepdim=True).values\n", "    shifted = z\n"),),
                notes="the formula as written: exp(1000) overflows, inf / inf is NaN"),
    WrongAnswer("softmax_wrong_dim", "softmax", "along the LAST dimension",
                subs=(("z.max(dim=-1, keepdim=True)", "z.max(dim=0, keepdim=True)"),
                      ("e.sum(dim=-1, keepdim=True)", "e.sum(dim=0, keepdim=True)"))),
    WrongAnswer("softmax_whole_tensor", "softmax", "sum over the whole tensor",
                subs=(("z.max(dim=-1, keepdim=True).values", "z.max()"),
                      ("e.sum(dim=-1, keepdim=True)", "e.sum()"))),
    # cross_entropy
    WrongAnswer("ce_sum_not_mean", "cross_entropy", "that is the SUM over the examples",
                subs=(("return (log_sum_exp - right).mean()", "return (log_sum_exp - right).sum()"),)),
    WrongAnswer("ce_log_of_softmax", "cross_entropy", "a log saw a probability that underflowed",
                subs=(("    top = logits.max(dim=1, keepdim=True).values\n"
                       "    log_sum_exp = top.squeeze(1) + torch.log(torch.exp(logits - top).sum(dim=1))\n"
                       "    right = logits.gather(1, labels.reshape(-1, 1)).squeeze(1)\n"
                       "    return (log_sum_exp - right).mean()\n",
                       "    probabilities = softmax(logits)\n"
                       "    return -torch.log(probabilities[torch.arange(len(labels)), labels]).mean()\n"),),
                notes="stable softmax, then its log: the right class's probability underflows"),
    WrongAnswer("ce_unshifted_logsumexp", "cross_entropy", "exp overflowed",
                subs=(("top.squeeze(1) + torch.log(torch.exp(logits - top).sum(dim=1))",
                       "torch.log(torch.exp(logits).sum(dim=1))"),)),
    # SoftmaxClassifier
    WrongAnswer("softmax_in_forward", "SoftmaxClassifier", "look like probabilities",
                subs=(("        return self.linear(x)\n",
                       "        return torch.softmax(self.linear(x), dim=1)\n"),)),
    WrongAnswer("softmax_hidden_layer", "SoftmaxClassifier", "exactly one nn.Linear",
                subs=(("self.linear = nn.Linear(28 * 28, 10)",
                       "self.hidden = nn.Linear(28 * 28, 100)\n        self.linear = nn.Linear(100, 10)"),
                      ("        return self.linear(x)\n",
                       "        return self.linear(torch.relu(self.hidden(x)))\n"))),
    WrongAnswer("softmax_no_flatten", "SoftmaxClassifier", "should flatten its input",
                subs=(("        x = x.reshape(-1, 28 * 28)\n", ""),)),
    # accuracy
    WrongAnswer("accuracy_returns_tensor", "accuracy", "should return a Python float",
                subs=(("return (predictions == labels).float().mean().item()",
                       "return (predictions == labels).float().mean()"),)),
    WrongAnswer("accuracy_counts", "accuracy", "not their count",
                subs=(("return (predictions == labels).float().mean().item()",
                       "return (predictions == labels).sum().item()"),)),
    # train_val_split
    WrongAnswer("split_without_shuffling", "train_val_split", "shuffle with the seeded permutation",
                subs=(("perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))",
                       "perm = torch.arange(n)"),)),
    WrongAnswer("split_xy_permuted_differently", "train_val_split", "x and y were permuted differently",
                subs=(("    return x[train_idx], y[train_idx], x[val_idx], y[val_idx]\n",
                       "    perm_y = torch.randperm(n)\n"
                       "    return x[train_idx], y[perm_y[n_val:]], x[val_idx], y[perm_y[:n_val]]\n"),)),
    WrongAnswer("split_last_of_perm", "train_val_split", "LAST n_val entries of the permutation",
                subs=(("val_idx, train_idx = perm[:n_val], perm[n_val:]",
                       "val_idx, train_idx = perm[n - n_val:], perm[:n - n_val]"),)),
    WrongAnswer("split_floor", "train_val_split", "should hold n_val = round(val_fraction * N)",
                subs=(("n_val = min(max(round(val_fraction * n), 1), n - 1)",
                       "n_val = min(max(int(val_fraction * n), 1), n - 1)"),)),
    # fit_and_validate
    WrongAnswer("fit_validates_in_train_mode", "fit_and_validate", "in evaluation mode",
                subs=(("        model.eval()\n", ""),)),
    WrongAnswer("fit_sums_validation_losses", "fit_and_validate", "you summed the validation batch losses",
                subs=(("total += F.mse_loss(model(xb), yb).item() * len(xb)",
                       "total += F.mse_loss(model(xb), yb).item()"),
                      ('val_losses.append(total / count if count else float("nan"))',
                       "val_losses.append(total)"))),
    WrongAnswer("fit_trains_on_validation", "fit_and_validate", "validation batches changed the weights",
                subs=(("        with torch.no_grad():\n"
                       "            for xb, yb in val_loader:\n"
                       "                total += F.mse_loss(model(xb), yb).item() * len(xb)\n"
                       "                count += len(xb)\n",
                       "        for xb, yb in val_loader:\n"
                       "            cost = F.mse_loss(model(xb), yb)\n"
                       "            optimizer.zero_grad()\n"
                       "            cost.backward()\n"
                       "            optimizer.step()\n"
                       "            total += cost.item() * len(xb)\n"
                       "            count += len(xb)\n"),),
                notes="validation with gradients on, and an optimizer step per validation batch"),
    WrongAnswer("fit_validation_with_grad", "fit_and_validate", "should run under torch.no_grad()",
                subs=(("        with torch.no_grad():\n"
                       "            for xb, yb in val_loader:\n"
                       "                total += F.mse_loss(model(xb), yb).item() * len(xb)\n"
                       "                count += len(xb)\n",
                       "        for xb, yb in val_loader:\n"
                       "            total += F.mse_loss(model(xb), yb).item() * len(xb)\n"
                       "            count += len(xb)\n"),),
                notes="the values are right: only the reading of the code sees the graph built"),
    WrongAnswer("fit_sgd", "fit_and_validate", "use torch.optim.Adam",
                subs=(("optimizer = torch.optim.Adam(model.parameters(), lr=lr)",
                       "optimizer = torch.optim.SGD(model.parameters(), lr=lr)"),)),
]

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
]

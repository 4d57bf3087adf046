"""Wrong answers for ps5_mnist_cnn."""

from . import WrongAnswer

CASES = [
    WrongAnswer("output_size_padding_once", "conv_output_size", "padding adds p pixels on BOTH sides",
                subs=(("return (in_size + 2 * padding - kernel_size) // stride + 1",
                       "return (in_size + padding - kernel_size) // stride + 1"),)),
    WrongAnswer("output_size_no_plus_one", "conv_output_size", "one too small",
                subs=(("return (in_size + 2 * padding - kernel_size) // stride + 1",
                       "return (in_size + 2 * padding - kernel_size) // stride"),)),
    WrongAnswer("output_size_no_checks", "conv_output_size",
                "should raise ValueError when the arguments make no sense",
                replace="def conv_output_size(in_size, kernel_size, stride=1, padding=0):\n"
                        "    return (in_size + 2 * padding - kernel_size) // stride + 1\n",
                notes="the formula alone: stride 0 divides by zero (ZeroDivisionError), the "
                      "rest return nonsense sizes"),
    WrongAnswer("conv_flipped_kernel", "conv2d_single", "the kernel is flipped",
                subs=(("out += k[u, v] * window", "out += k[kh - 1 - u, kw - 1 - v] * window"),)),
    WrongAnswer("conv_ignores_stride", "conv2d_single", "stride",
                subs=(("out_h = conv_output_size(h, kh, stride, padding)\n    "
                       "out_w = conv_output_size(w, kw, stride, padding)",
                       "stride = 1\n    out_h = conv_output_size(h, kh, stride, padding)\n    "
                       "out_w = conv_output_size(w, kw, stride, padding)"),)),
    WrongAnswer("conv_library", "conv2d_single", "used a library convolution",
                replace='''import torch
import torch.nn.functional as F

def conv2d_single(image, kernel, stride=1, padding=0):
    x = torch.as_tensor(image).double()
    k = torch.as_tensor(kernel).double()
    out = F.conv2d(x[None, None], k[None, None], stride=stride, padding=padding)[0, 0]
    return out.to(image.dtype if image.is_floating_point() else torch.float32)
'''),
    WrongAnswer("pool_mean_instead_of_max", "max_pool2d_single", "averaged",
                subs=(("return windows.amax(dim=(1, 3))", "return windows.mean(dim=(1, 3))"),)),
    WrongAnswer("avg_divides_by_k", "avg_pool2d_single", "divided by k;",
                subs=(("return windows.mean(dim=(1, 3))", "return windows.sum(dim=(1, 3)) / k"),)),
    WrongAnswer("avg_sum_pooling", "avg_pool2d_single", "summed, not averaged",
                subs=(("return windows.mean(dim=(1, 3))", "return windows.sum(dim=(1, 3))"),)),
    WrongAnswer("avg_keeps_partial_windows", "avg_pool2d_single", "keeps the partial windows",
                replace='''import math

import torch

def avg_pool2d_single(x, kernel_size):
    x = torch.as_tensor(x).float()
    k = int(kernel_size)
    out_h, out_w = math.ceil(x.shape[0] / k), math.ceil(x.shape[1] / k)
    out = torch.zeros(out_h, out_w)
    for i in range(out_h):
        for j in range(out_w):
            out[i, j] = x[i * k:(i + 1) * k, j * k:(j + 1) * k].mean()
    return out
'''),
    WrongAnswer("avg_integer_mean", "avg_pool2d_single", "integer",
                subs=(("    if not x.is_floating_point():\n"
                       "        x = x.float()  # the mean of integers need not be an integer\n", ""),)),
    WrongAnswer("avg_library", "avg_pool2d_single", "no library pooling",
                replace='''import torch
import torch.nn.functional as F

def avg_pool2d_single(x, kernel_size):
    x = torch.as_tensor(x)
    x = x if x.is_floating_point() else x.float()
    return F.avg_pool2d(x[None, None], kernel_size)[0, 0]
'''),
    WrongAnswer("avg_convolution_of_ones", "avg_pool2d_single", "or convolution",
                replace='''import torch
import torch.nn.functional as F

def avg_pool2d_single(x, kernel_size):
    x = torch.as_tensor(x)
    x = x if x.is_floating_point() else x.float()
    k = int(kernel_size)
    ones = torch.ones(1, 1, k, k, dtype=x.dtype) / (k * k)
    return F.conv2d(x[None, None], ones, stride=k)[0, 0]
'''),
    WrongAnswer("predict_int32_labels", "predict", "should return int64",
                subs=(("return torch.cat(predictions).long()", "return torch.cat(predictions).int()"),)),
    WrongAnswer("predict_uint8_unscaled", "predict", "predict seems to scale the images differently "
                "from train_model: uint8 images",
                subs=(("batch = batch.float() / 255 if batch.dtype == torch.uint8 else batch.float()",
                       "batch = batch.float()"),)),
    WrongAnswer("predict_floats_scaled_again", "predict", "divided by 255 once more",
                subs=(("batch = batch.float() / 255 if batch.dtype == torch.uint8 else batch.float()",
                       "batch = batch.float() / 255"),)),
    WrongAnswer("predict_argmin", "predict", "index of the largest logit",
                subs=(("predictions.append(model(batch).argmax(dim=1).cpu())",
                       "predictions.append(model(batch).argmin(dim=1).cpu())"),)),
    WrongAnswer("accuracy_as_percentage", "evaluate_accuracy", "returns a percentage",
                subs=(("return (predictions == labels).float().mean().item()",
                       "return 100 * (predictions == labels).float().mean().item()"),)),
]

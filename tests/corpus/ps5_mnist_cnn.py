"""Wrong answers for ps5_mnist_cnn."""

from . import WrongAnswer

CASES = [
    WrongAnswer("output_size_padding_once", "conv_output_size", "padding adds p pixels on BOTH sides",
                subs=(("return (in_size + 2 * padding - kernel_size) // stride + 1",
                       "return (in_size + padding - kernel_size) // stride + 1"),)),
    WrongAnswer("output_size_no_plus_one", "conv_output_size", "one too small",
                subs=(("return (in_size + 2 * padding - kernel_size) // stride + 1",
                       "return (in_size + 2 * padding - kernel_size) // stride"),)),
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
    WrongAnswer("predict_int32_labels", "predict", "should return int64",
                subs=(("return torch.cat(predictions).long()", "return torch.cat(predictions).int()"),)),
    WrongAnswer("accuracy_as_percentage", "evaluate_accuracy", "returns a percentage",
                subs=(("return (predictions == labels).float().mean().item()",
                       "return 100 * (predictions == labels).float().mean().item()"),)),
]

"""ps5 parts 1-3: the output size of a convolution, cross-correlation, max and average pooling by hand."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import static
from ..api import StudentError
from ..framework import (
    Fail,
    Registry,
    as_tensor,
    by_hand,
    check_close,
    check_shape,
    score_fraction,
    value_errors,
)

registry = Registry()
TESTS = registry.tests
test = registry.test


# ---------------------------------------------------------------- conv_output_size


@test("conv_output_size", 1, "conv_output_size: the lecture's examples")
def output_size_lecture(ctx) -> None:
    cases = [((227, 11, 4, 0), 55), ((64, 7, 2, 0), 29), ((32, 5, 1, 0), 28), ((64, 5, 1, 0), 60)]
    ok = sum(ctx.student.conv_output_size(*args) == want for args, want in cases)
    score_fraction(ok, len(cases), "conv_output_size is right for {passed} of {total} of the "
                                   "lecture's examples")


@test("conv_output_size", 1.5, "conv_output_size: random sizes, strides and padding")
def output_size_random(ctx) -> None:
    g = ctx.generator()
    ok, total = 0, 24
    mistakes = {"padding once": 0, "no +1": 0}
    for _ in range(total):
        n, k, s, p = (int(v) for v in (torch.randint(5, 64, (1,), generator=g),
                                       torch.randint(1, 6, (1,), generator=g),
                                       torch.randint(1, 4, (1,), generator=g),
                                       torch.randint(0, 3, (1,), generator=g)))
        want = (n + 2 * p - k) // s + 1
        got = ctx.student.conv_output_size(n, k, s, p)
        ok += got == want
        if got != want:
            mistakes["padding once"] += got == (n + p - k) // s + 1
            mistakes["no +1"] += got == want - 1
    if ok < total:
        wrong = total - ok
        if mistakes["no +1"] == wrong:
            hint, credit = " — every answer is one too small: the first window position counts too (+1)", 0.25
        elif mistakes["padding once"] == wrong:
            hint, credit = " — padding adds p pixels on BOTH sides: n + 2p", 0.25
        else:
            hint, credit = " — the formula is floor((n + 2p - k) / s) + 1", 0.0
        raise Fail(f"conv_output_size is right for {ok} of {total} random cases{hint}",
                   max(ok / total, credit))


@test("conv_output_size", 0.5, "conv_output_size: ValueError for arguments that make no sense")
def output_size_errors(ctx) -> None:
    f = ctx.student.conv_output_size
    value_errors([("stride 0", lambda: f(28, 5, 0, 0)), ("a negative padding", lambda: f(28, 5, 1, -1)),
                  ("a kernel larger than the padded input", lambda: f(4, 7, 1, 1)),
                  ("an input of size 0", lambda: f(0, 1, 1, 0))],
                 "conv_output_size should raise ValueError when the arguments make no sense (its "
                 "docstring lists them)")


# ---------------------------------------------------------------- conv2d_single


def _conv_cases(ctx, cases, what: str) -> None:
    for i, (image, kernel, stride, padding) in enumerate(cases):
        want = F.conv2d(image[None, None].double(), kernel[None, None].double(),
                        stride=stride, padding=padding)[0, 0]
        got = ctx.student.conv2d_single(image, kernel, stride, padding)
        flipped = F.conv2d(image[None, None].double(), kernel.flip(0, 1)[None, None].double(),
                           stride=stride, padding=padding)[0, 0]
        if isinstance(got, torch.Tensor) and got.shape == want.shape and kernel.numel() > 1 \
                and torch.allclose(got.double(), flipped, atol=1e-4) \
                and not torch.allclose(got.double(), want, atol=1e-4):
            raise Fail("the kernel is flipped: that is a true convolution, but PyTorch's Conv2d "
                       "(and this function) computes cross-correlation without flipping", 0.3)
        check_close(got, want.to(image.dtype) if image.is_floating_point() else want.float(),
                    f"{what} (case {i + 1}: stride {stride}, padding {padding})", atol=1e-4,
                    rtol=1e-4)


@test("conv2d_single", 1.5, "conv2d_single: random images and kernels")
def conv_random(ctx) -> None:
    g = ctx.generator()
    cases = []
    for _ in range(4):
        h, w = (int(v) for v in torch.randint(5, 12, (2,), generator=g))
        kh, kw = (int(v) for v in torch.randint(1, 5, (2,), generator=g))
        cases.append((torch.randn(h, w, generator=g), torch.randn(kh, kw, generator=g), 1, 0))
    _conv_cases(ctx, cases, "the cross-correlation")


@test("conv2d_single", 1.5, "conv2d_single: stride and zero padding")
def conv_stride_padding(ctx) -> None:
    g = ctx.generator()
    cases = []
    for stride, padding in ((2, 0), (1, 1), (2, 1), (3, 2)):
        h, w = (int(v) for v in torch.randint(6, 13, (2,), generator=g))
        cases.append((torch.randn(h, w, generator=g), torch.randn(3, 3, generator=g), stride, padding))
    _conv_cases(ctx, cases, "the cross-correlation")


@test("conv2d_single", 0.5, "conv2d_single: float64 and integer inputs")
def conv_dtypes(ctx) -> None:
    g = ctx.generator()
    image = torch.randn(6, 7, generator=g, dtype=torch.float64)
    kernel = torch.randn(3, 2, generator=g, dtype=torch.float64)
    _conv_cases(ctx, [(image, kernel, 1, 1)], "the float64 result")
    ints = torch.randint(0, 5, (5, 5), generator=g)
    got = as_tensor(ctx.student.conv2d_single(ints, torch.ones(3, 3, dtype=torch.long), 1, 0),
                    "the result for integer inputs")
    want = F.conv2d(ints[None, None].double(), torch.ones(1, 1, 3, 3, dtype=torch.double))[0, 0]
    check_close(got.double(), want, "the result for integer inputs")


@test("conv2d_single", 1.5, "conv2d_single: computed by hand, no library convolution",
      kind="static")
def conv_by_hand(ctx) -> None:
    by_hand(ctx, static.LIBRARY_CONVOLUTION, "conv2d_single must slide the kernel itself")


# ---------------------------------------------------------------- max_pool2d_single


@test("max_pool2d_single", 1.5, "max_pool2d_single: random maps")
def pool_random(ctx) -> None:
    g = ctx.generator()
    for k in (2, 3):
        x = torch.randn(4 * k, 2 * k, generator=g)
        want = F.max_pool2d(x[None, None], k)[0, 0]
        check_close(ctx.student.max_pool2d_single(x, k), want, f"max pooling with a {k}x{k} window")


@test("max_pool2d_single", 1, "max_pool2d_single: sizes that do not divide evenly")
def pool_remainder(ctx) -> None:
    g = ctx.generator()
    x = torch.randn(7, 9, generator=g)
    got = as_tensor(ctx.student.max_pool2d_single(x, 2), "the pooled map")
    check_shape(got, (3, 4), "max_pool2d_single of a 7x9 map with a 2x2 window (leftover rows "
                             "and columns are dropped)")
    if torch.allclose(got, F.avg_pool2d(x[None, None], 2)[0, 0], atol=1e-5):
        raise Fail("the windows are right but averaged: max pooling keeps each window's maximum", 0.5)
    check_close(got, F.max_pool2d(x[None, None], 2)[0, 0], "the pooled values",
                fraction_if_close=0.5, loose=10.0)


@test("max_pool2d_single", 0.5, "max_pool2d_single: no library pooling", kind="static")
def pool_by_hand(ctx) -> None:
    by_hand(ctx, static.LIBRARY_POOLING,
            "max_pool2d_single should take window maxima itself")


# ---------------------------------------------------------------- avg_pool2d_single

# Average pooling may use neither a library pooling operator nor a convolution (a kernel of
# ones divided by k*k averages too).
LIBRARY_AVERAGING = {
    **static.LIBRARY_POOLING,
    "avg_pool2d": "a library pooling function",
    "AvgPool2d": "nn.AvgPool2d",
    "adaptive_avg_pool2d": "a library pooling function",
    "AdaptiveAvgPool2d": "nn.AdaptiveAvgPool2d",
    "avg_pool1d": "a library pooling function",
    "lp_pool2d": "a library pooling function",
    **static.LIBRARY_CONVOLUTION,
}


def _avg_mistake(got: torch.Tensor, x: torch.Tensor, k: int) -> str | None:
    """What a wrong average-pooling result looks like it did, or None if nothing known."""
    h, w = x.shape[0] // k, x.shape[1] // k
    ceil_h, ceil_w = -(-x.shape[0] // k), -(-x.shape[1] // k)
    if (h, w) != (ceil_h, ceil_w) and tuple(got.shape) == (ceil_h, ceil_w):
        return ("it keeps the partial windows at the bottom or right edge; rows and columns that "
                "do not fill a whole k x k window are dropped, as in max_pool2d_single")
    if tuple(got.shape) != (h, w):
        return None
    mean = F.avg_pool2d(x[None, None].double(), k)[0, 0]
    g = got.double()
    if torch.allclose(g, mean * k * k, rtol=1e-4, atol=1e-4):
        return "the windows are summed, not averaged: divide each window's sum by the k * k values in it"
    if k > 1 and torch.allclose(g, mean * k, rtol=1e-4, atol=1e-4):
        return ("each window's sum is divided by k; a k x k window holds k * k values, so divide "
                "by k * k")
    if torch.allclose(g, F.max_pool2d(x[None, None].double(), k)[0, 0], rtol=1e-4, atol=1e-4):
        return "that is each window's maximum (max pooling); average pooling takes the mean"
    return None


def _check_avg(ctx, x: torch.Tensor, k: int, what: str, credit: float) -> None:
    """Compare with the trusted average; a recognised mistake keeps ``credit`` of the points."""
    got = as_tensor(ctx.student.avg_pool2d_single(x, k), what)
    want = F.avg_pool2d(x[None, None].double(), k)[0, 0]
    mistake = _avg_mistake(got, x, k)
    if mistake is not None and not (got.shape == want.shape
                                    and torch.allclose(got.double(), want, rtol=1e-4, atol=1e-5)):
        raise Fail(f"{what}: {mistake}", credit)
    check_shape(got, tuple(want.shape), f"{what} (an (H, W) map pooled with k x k windows gives "
                                        "(H // k, W // k))")
    if not got.is_floating_point():
        raise Fail(f"{what} has dtype {got.dtype}; average pooling gives a float tensor", credit)
    check_close(got.double(), want, what, atol=1e-5, rtol=1e-4)


@test("avg_pool2d_single", 0.75, "avg_pool2d_single: random maps")
def avg_pool_random(ctx) -> None:
    g = ctx.generator()
    for k in (2, 3):
        x = torch.randn(3 * k, 2 * k, generator=g)
        _check_avg(ctx, x, k, f"average pooling with a {k}x{k} window", 0.25)


@test("avg_pool2d_single", 0.5, "avg_pool2d_single: sizes that do not divide evenly")
def avg_pool_remainder(ctx) -> None:
    g = ctx.generator()
    for shape, k in (((7, 9), 2), ((8, 11), 3)):
        x = torch.randn(*shape, generator=g)
        got = as_tensor(ctx.student.avg_pool2d_single(x, k), "the pooled map")
        want_shape = (shape[0] // k, shape[1] // k)
        if tuple(got.shape) != want_shape:
            hint = _avg_mistake(got, x, k) or ("rows and columns that do not fill a whole window "
                                               "are dropped")
            raise Fail(f"average pooling of a {shape[0]}x{shape[1]} map with a {k}x{k} window gives "
                       f"shape {tuple(got.shape)}, expected {want_shape}: {hint}")
        # The cropping is right; what is left to get right is the averaging itself.
        _check_avg(ctx, x, k, f"the pooled values of a {shape[0]}x{shape[1]} map", 0.5)


@test("avg_pool2d_single", 0.25, "avg_pool2d_single: integer maps give float means")
def avg_pool_integers(ctx) -> None:
    g = ctx.generator()
    for dtype in (torch.uint8, torch.int64):
        x = torch.randint(0, 50, (6, 4), generator=g).to(dtype)
        try:
            got = as_tensor(ctx.student.avg_pool2d_single(x, 2), "the pooled integer map")
        except StudentError as exc:
            raise Fail(f"avg_pool2d_single raised {exc.type} on an integer ({dtype}) map: turn "
                       "integer input into floats before averaging (torch's mean refuses "
                       "integer tensors)") from None
        if not got.is_floating_point():
            raise Fail(f"an integer ({dtype}) map gives dtype {got.dtype}; the mean of integers "
                       "need not be an integer, so return floats (torch.float32)")
        mistake = _avg_mistake(got, x, 2)
        want = F.avg_pool2d(x[None, None].double(), 2)[0, 0]
        if mistake is not None and not (got.shape == want.shape
                                        and torch.allclose(got.double(), want, atol=1e-5)):
            raise Fail(f"the means of an integer ({dtype}) map: {mistake}")
        check_close(got.double(), want, f"the means of an integer ({dtype}) map", atol=1e-5,
                    rtol=1e-5)


@test("avg_pool2d_single", 0.5, "avg_pool2d_single: no library pooling", kind="static")
def avg_pool_by_hand(ctx) -> None:
    by_hand(ctx, LIBRARY_AVERAGING, "avg_pool2d_single should average each window itself "
                                    "(no library pooling or convolution)")

"""The exercise checks of chapters 7 (toy images), 8 (training tools) and 12 (architectures).

* The book's own solutions pass, over several seeds, loaded from the notebooks
  the way the grader loads a submission (definitions only).
* Plausible wrong answers fail on every seed, each with a hint that names the
  slip and gives no reference value: no number with more than two significant
  digits, and for the exercises that return integers, no number in the hint.
* The private references of the checks agree with independent computations
  (cnnedu.optim, cnnedu.layers, cnnedu.functional, a numerical gradient).

Run: python -m pytest tests/test_exercises_ch07_ch08.py
"""

import re

import numpy as np
import pytest

from cnnedu import Conv2D, MaxPool2D, Momentum
from cnnedu.exercises import EXERCISES, check
from cnnedu.exercises import ch12_architectures as ch12
from cnnedu.gradcheck import distinct_values, numerical_gradient_array

from exercise_book import fails, functions, load_chapters, posed, stub

NOTEBOOKS = {7: "07_toy_images.ipynb", 8: "08_training_tools.ipynb", 12: "12_architectures.ipynb"}
POSED = {
    7: {"standardize": (("standardize",), 1),
        "top_k_accuracy": (("top_k_accuracy",), 1),
        "stratified_split": (("stratified_split",), 2)},
    8: {"momentum_update": (("momentum_update",), 1),
        "adam_update": (("adam_update",), 2),
        "he_normal": (("he_normal",), 1),
        "prelu": (("prelu_forward", "prelu_backward"), 1)},
    12: {"conv_param_count": (("conv_param_count",), 1),
         "output_shape": (("output_shape",), 2)},
}
NAMES = [name for chapter in POSED.values() for name in chapter]
SEEDS = range(3)


@pytest.fixture(scope="module")
def book():
    """{chapter: namespace} of the definitions in chapters 7, 8 and 12, as the grader loads them."""
    return load_chapters(NOTEBOOKS)


def test_the_chapters_pose_these_exercises():
    for chapter, expected in POSED.items():
        assert posed(chapter) == expected


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", NAMES)
def test_the_books_solution_passes(book, name, seed, capsys):
    check(name, *functions(book, name), rng=seed)
    assert f"✔ {name}: all checks passed" in capsys.readouterr().out


# ----------------------------------------------------------------------------
# Wrong answers fail, with a hint that gives nothing away
# ----------------------------------------------------------------------------

def _fails(book, name, seeds=range(5), **replaced):
    return fails(book, name, seeds, 3, **replaced)


@pytest.mark.parametrize("name", NAMES)
def test_the_blankstub_is_not_implemented(book, name):
    ex = EXERCISES[name]
    for message in _fails(book, name, seeds=[0], **{f: stub for f in ex.functions}):
        assert "not implemented yet" in message


# chapter 7 -------------------------------------------------------------------

def _standardizer(mean_axes, std=True, own_test_stats=False):
    def standardize(X_train, X_test):
        def apply(X, source):
            mean = source.mean(axis=mean_axes, keepdims=True)
            scale = source.std(axis=mean_axes, keepdims=True) if std else 1
            return ((X - mean) / scale).astype(X.dtype)
        return apply(X_train, X_train), apply(X_test, X_test if own_test_stats else X_train)
    return standardize


@pytest.mark.parametrize("wrong, hint", [
    (_standardizer(0), "each pixel"),
    (_standardizer(None), "one mean and std for all channels"),
    (_standardizer((0, 2, 3), own_test_stats=True), "test images' statistics"),
    (_standardizer((0, 2, 3), std=False), "also divide by the standard deviation"),
    (lambda a, b: tuple(x.astype(np.float64) for x in _standardizer((0, 2, 3))(a, b)),
     "expected dtype float32"),
])
def test_standardize_wrong_answers(book, wrong, hint):
    for message in _fails(book, "standardize", standardize=wrong):
        assert hint in message, message


def test_top_k_accuracy_wrong_answers(book):
    def smallest(scores, y, k):
        return float(np.mean(np.any(np.argsort(scores, axis=1)[:, :k] == y[:, None], axis=1)))

    def count(scores, y, k):
        return float(np.sum(np.any(np.argsort(scores, axis=1)[:, -k:] == y[:, None], axis=1)))

    def plain_accuracy(scores, y, k):
        return float(np.mean(scores.argmax(axis=1) == y))

    for wrong, hint in [(smallest, "the k *largest* scores"), (count, "not a count"),
                        (plain_accuracy, "among the k highest scores")]:
        for message in _fails(book, "top_k_accuracy", top_k_accuracy=wrong):
            assert hint in message, message


def test_stratified_split_wrong_answers(book):
    def floor_cut(X, y, train_fraction, rng):
        train, test = [], []
        for label in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == label))
            cut = int(train_fraction * len(members))
            train.append(members[:cut])
            test.append(members[cut:])
        train, test = np.concatenate(train), np.concatenate(test)
        return X[train], X[test], y[train], y[test]

    def unseeded(X, y, train_fraction, rng):
        return book[7]["stratified_split"](X, y, train_fraction, np.random.default_rng())

    for wrong, hint in [(floor_cut, "round(train_fraction"), (unseeded, "draw all randomness")]:
        for message in _fails(book, "stratified_split", stratified_split=wrong):
            assert hint in message, message


# chapter 8 -------------------------------------------------------------------

def test_momentum_update_wrong_answers(book):
    def ignores_decay(w, dw, v, lr, mu, weight_decay):
        v_new = mu * v - lr * dw
        return w + v_new, v_new

    def wrong_sign(w, dw, v, lr, mu, weight_decay):
        v_new = mu * v - lr * (dw - weight_decay * w)
        return w + v_new, v_new

    def decoupled(w, dw, v, lr, mu, weight_decay):    # decay after the step: another optimiser
        v_new = mu * v - lr * dw
        return (w + v_new) * (1 - lr * weight_decay), v_new

    for wrong, hint in [(ignores_decay, "no effect on your velocity"),
                        (wrong_sign, "the sign of the weight-decay term"),
                        (decoupled, "no effect on your velocity")]:
        for message in _fails(book, "momentum_update", momentum_update=wrong):
            assert hint in message, message


def test_adam_update_wrong_answers(book):
    def no_correction(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * dw ** 2
        return w - lr * m / (np.sqrt(v) + eps), m, v

    def returns_corrected(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = (beta1 * m + (1 - beta1) * dw) / (1 - beta1 ** t)
        v = (beta2 * v + (1 - beta2) * dw ** 2) / (1 - beta2 ** t)
        return w - lr * m / (np.sqrt(v) + eps), m, v

    def lr_in_moment(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + lr * dw                       # a student report's slip
        v = beta2 * v + (1 - beta2) * dw ** 2
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v

    for wrong, hint in [(no_correction, "the step w - w_new"), (returns_corrected, "m_new"),
                        (lr_in_moment, "m_new")]:
        for message in _fails(book, "adam_update", adam_update=wrong):
            assert hint in message, message


def test_he_normal_wrong_answers(book):
    def fan_in_of_filters(shape, rng):              # shape[0] for a conv too: F, not C*kh*kw
        return (rng.standard_normal(shape) * np.sqrt(2 / shape[0])).astype(np.float32)

    def fan_out(shape, rng):
        fan = shape[1] if len(shape) == 2 else shape[0] * int(np.prod(shape[2:]))
        return (rng.standard_normal(shape) * np.sqrt(2 / fan)).astype(np.float32)

    for wrong in (fan_in_of_filters, fan_out):
        for message in _fails(book, "he_normal", he_normal=wrong):
            assert "standard deviation" in message and "fan_in" in message, message


def test_prelu_wrong_answers(book):
    backward = book[8]["prelu_backward"]

    def one_slope(x, alpha):                        # the first channel's slope everywhere
        return np.where(x > 0, x, alpha[0] * x), (x, alpha[0] * np.ones((1, len(alpha)) +
                                                                          (1,) * (x.ndim - 2)))

    def dalpha_not_summed(dout, cache):             # keeps the batch axis
        dx, _ = backward(dout, cache)
        x, slope = cache
        return dx, np.where(x > 0, 0, x * dout)[0].reshape(-1)[:slope.size]

    def dalpha_without_x(dout, cache):              # forgets d(alpha x)/d alpha = x
        dx, _ = backward(dout, cache)
        x, slope = cache
        axes = (0,) + tuple(range(2, x.ndim))
        return dx, np.sum(np.where(x > 0, 0, dout), axis=axes)

    for replaced, hint in [({"prelu_forward": one_slope}, "alpha[c] belongs to channel c"),
                           ({"prelu_backward": dalpha_not_summed}, "dalpha"),
                           ({"prelu_backward": dalpha_without_x}, "dalpha: relative error")]:
        for message in _fails(book, "prelu", **replaced):
            assert hint in message, message


# chapter 12 ------------------------------------------------------------------

def _integer_hint_is_clean(message):
    """An integer exercise's message shows the call, the learner's value and a hint in words."""
    hint = message.split("which is wrong", 1)[1] if "which is wrong" in message else \
        message.split("is wrong", 1)[1]
    assert not re.search(r"\d", hint), f"the hint contains a number: {message}"


def test_conv_param_count_wrong_answers(book):
    def ignores_groups(in_channels, out_channels, kernel_size, groups=1):
        return out_channels * (in_channels * kernel_size ** 2 + 1)

    def no_bias(in_channels, out_channels, kernel_size, groups=1):
        return out_channels * in_channels // groups * kernel_size ** 2

    def without_groups(in_channels, out_channels, kernel_size):
        return out_channels * (in_channels * kernel_size ** 2 + 1)

    for message in _fails(book, "conv_param_count", conv_param_count=ignores_groups):
        assert "in_channels // groups" in message, message
        _integer_hint_is_clean(message)
    for message in _fails(book, "conv_param_count", conv_param_count=no_bias):
        assert "one bias per output channel" in message, message
        _integer_hint_is_clean(message)
    for message in _fails(book, "conv_param_count", conv_param_count=without_groups):
        assert "TypeError" in message, message


def test_output_shape_wrong_answers(book):
    def undilated(input_shape, layers):
        C, H, W = input_shape
        for layer in layers:
            if layer[0] == "conv":
                _, C, k, s, p, _ = layer
            else:
                (_, k, s), p = layer, 0
            H, W = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
        return C, H, W

    def as_floats(input_shape, layers):
        return tuple(float(v) for v in book[12]["output_shape"](input_shape, layers))

    for message in _fails(book, "output_shape", output_shape=undilated):
        assert "a dilated kernel covers more than kernel pixels" in message, message
    for message in _fails(book, "output_shape", output_shape=as_floats):
        assert "tuple of 3 ints" in message, message


# ----------------------------------------------------------------------------
# The checks' private references against independent computations
# ----------------------------------------------------------------------------

def test_the_momentum_reference_is_cnnedus_momentum_with_weight_decay():
    """cnnedu.Momentum(weight_decay=λ) adds λw to the gradient of weights (ndim >= 2)."""
    rng = np.random.default_rng(0)
    w, dw = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    lr, mu, decay = 0.1, 0.9, 0.3
    params, optimizer = {"w": w.copy()}, Momentum(lr=lr, momentum=mu, weight_decay=decay)
    v = np.zeros_like(w)
    for _ in range(3):
        optimizer.step(params, {"w": dw})
        v = mu * v - lr * (dw + decay * w)
        w = w + v
    np.testing.assert_allclose(params["w"], w, rtol=1e-12)


def test_the_prelu_gradient_is_the_numerical_one():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 2, 2))
    x[np.abs(x) < 0.1] = 0.5                         # no kink within the step
    alpha, dout = rng.uniform(0.1, 0.3, 4), rng.standard_normal((3, 4, 2, 2))
    forward = lambda: np.where(x > 0, x, alpha.reshape(1, 4, 1, 1) * x)
    dalpha = numerical_gradient_array(forward, alpha, dout)
    expected = np.sum(np.where(x > 0, 0, x * dout), axis=(0, 2, 3))
    np.testing.assert_allclose(dalpha, expected, rtol=1e-6)


def test_top_k_counts_the_classes_above_the_label():
    rng = np.random.default_rng(2)
    scores = distinct_values(rng, (30, 6))
    y = rng.integers(0, 6, 30)
    top = np.argsort(-scores, axis=1)
    for k in range(1, 7):
        expected = np.mean([y[i] in top[i, :k] for i in range(30)])
        rank = np.sum(scores > scores[np.arange(30), y][:, None], axis=1)
        assert np.mean(rank < k) == expected


def test_the_shape_reference_matches_cnnedu_layers():
    """Undilated stacks: cnnedu's layers report the same shapes. Dilated: a 3x3 kernel with
    dilation 2 or 3 gives the output size of an ordinary 5x5 or 7x7 one."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        input_shape = (int(rng.integers(1, 4)), *(int(v) for v in rng.integers(24, 40, 2)))
        layers = [layer for layer in ch12._random_layers(rng, 4, input_shape)
                  if layer[0] == "pool" or layer[5] == 1]
        model, C = [], input_shape[0]
        for layer in layers:
            if layer[0] == "conv":
                _, F, k, s, p, _ = layer
                model.append(Conv2D(C, F, k, stride=s, padding=p))
                C = F
            else:
                model.append(MaxPool2D(layer[1], stride=layer[2]))
        shape = (None, *input_shape)
        for layer in model:
            shape = layer.output_shape(shape)
        assert ch12._ref_output_shape(input_shape, layers) == tuple(shape[1:]), layers
    for dilation in (2, 3):
        span = ch12._span(3, dilation)
        assert ch12._ref_output_shape((1, 20, 20), [("conv", 4, 3, 1, 0, dilation)]) == \
            ch12._ref_output_shape((1, 20, 20), [("conv", 4, span, 1, 0, 1)]) == \
            (4, 20 - span + 1, 20 - span + 1)

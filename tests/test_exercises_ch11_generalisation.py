"""The exercise checks of chapter 11 (generalisation).

* The book's own solutions pass, over several seeds, loaded from the notebook
  the way the grader loads a submission (definitions only).
* Plausible wrong answers fail on every seed, each with a hint that says what
  is wrong and shows no reference value.
* The checks' private helpers agree with what they stand for.

Run: python -m pytest tests/test_exercises_ch11_generalisation.py
"""

import re
from pathlib import Path

import numpy as np
import pytest

from cnnedu import functional as F
from cnnedu.exercises import EXERCISES, check
from cnnedu.exercises import ch11_generalisation as ch11
from cnnedu.exercises._common import _slip

from exercise_book import load_chapters, posed

NOTEBOOK = Path(__file__).resolve().parents[1] / "book" / "11_generalisation.ipynb"
POSED = {"batch_norm": (("batch_norm_forward", "batch_norm_backward"), 3),
         "random_shift": (("random_shift",), 2),
         "k_fold_indices": (("k_fold_indices",), 2),
         "add_weight_decay": (("add_weight_decay",), 1)}
SEEDS = range(3)


@pytest.fixture(scope="module")
def book():
    """The definitions of chapter 11, as the grader loads them."""
    return load_chapters({11: NOTEBOOK.name})[11]


def test_the_chapter_poses_these_exercises():
    assert posed(11) == POSED
    assert all(EXERCISES[name].run.__module__ == ch11.__name__ for name in POSED)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", list(POSED))
def test_the_books_solution_passes(book, name, seed, capsys):
    check(name, *[book[f] for f in EXERCISES[name].functions], rng=seed)
    assert f"✔ {name}: all checks passed" in capsys.readouterr().out


def _fails(name, functions, hint, seeds=range(4)):
    """Every seed's check of ``functions`` fails with a message matching ``hint``, and no
    message holds a number with more than two significant digits (nothing to copy)."""
    for seed in seeds:
        with pytest.raises(AssertionError) as failure:
            check(name, *functions, rng=seed)
        message = str(failure.value)
        assert message.startswith(f"{name}: "), message
        assert re.search(hint, message), message
        # (the shared scale hint, "the right answer times 0.167", is a ratio, not a value)
        for number in re.findall(r"-?\d+\.\d+", re.sub(r"times -?[\d.]+", "", message)):
            assert len(number.lstrip("-").replace(".", "").lstrip("0")) <= 2, message


# ----------------------------------------------------------------------------
# batch_norm
# ----------------------------------------------------------------------------

def _bn_forward(normalise):
    """A forward pass whose cache suits the book's backward pass; normalise(x, eps) -> x_hat."""
    def batch_norm_forward(x, gamma, beta, eps=1e-5):
        x_hat = normalise(x, eps)
        return gamma * x_hat + beta, (x_hat, 1 / np.sqrt(x.var(axis=0) + eps), gamma)
    return batch_norm_forward


@pytest.mark.parametrize("normalise, hint", [
    (lambda x, eps: (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps), "biased variance"),
    (lambda x, eps: (x - x.mean(0)) / (x.std(0) + eps), "inside the square root"),
    (lambda x, eps: (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + eps),
     "axis 0"),
    (lambda x, eps: (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), r"out: relative error"),
], ids=["unbiased variance", "eps outside the root", "wrong axis", "ignores eps"])
def test_batch_norm_wrong_forward_passes(book, normalise, hint):
    _fails("batch_norm", [_bn_forward(normalise), book["batch_norm_backward"]], hint)


def test_batch_norm_wrong_backward_passes(book):
    forward = book["batch_norm_forward"]

    def constant_statistics(dout, cache):
        x_hat, inv_std, gamma = cache
        return gamma * inv_std * dout, (dout * x_hat).sum(axis=0), dout.sum(axis=0)

    def dgamma_without_x_hat(dout, cache):
        dx, _, dbeta = book["batch_norm_backward"](dout, cache)
        return dx, dout.sum(axis=0), dbeta

    def mean_not_sum(dout, cache):
        dx, dgamma, _ = book["batch_norm_backward"](dout, cache)
        return dx, dgamma, dout.mean(axis=0)

    _fails("batch_norm", [forward, constant_statistics], "depend on every x of the batch")
    _fails("batch_norm", [forward, dgamma_without_x_hat], "dgamma: relative error")
    _fails("batch_norm", [forward, mean_not_sum], "dbeta: relative error")


def test_batch_norm_keeps_float32(book):
    def promotes(x, gamma, beta, eps=1e-5):
        out, cache = book["batch_norm_forward"](x.astype(np.float64), gamma.astype(np.float64),
                                                beta.astype(np.float64), eps)
        return out, cache

    _fails("batch_norm", [promotes, book["batch_norm_backward"]], "expected dtype float32")


def test_batch_norm_detects_a_forward_changing_its_input(book):
    def centres_in_place(x, gamma, beta, eps=1e-5):
        x -= x.mean(axis=0)
        return book["batch_norm_forward"](x, gamma, beta, eps)

    _fails("batch_norm", [centres_in_place, book["batch_norm_backward"]], "in place")


# ----------------------------------------------------------------------------
# random_shift
# ----------------------------------------------------------------------------

def _shift_each(x, shifts):
    return np.stack([ch11._shifted(image, int(dy), int(dx)) for image, (dy, dx) in zip(x, shifts)])


def test_random_shift_wrong_answers():
    def rolls(x, max_shift, rng):
        shifts = rng.integers(-max_shift, max_shift + 1, (len(x), 2))
        return np.stack([np.roll(image, tuple(s), axis=(1, 2)) for image, s in zip(x, shifts)])

    def excludes_the_largest(x, max_shift, rng):
        return _shift_each(x, rng.integers(-max_shift, max(max_shift, 1), (len(x), 2)))

    def one_shift_for_all(x, max_shift, rng):
        dy, dx = rng.integers(-max_shift, max_shift + 1, 2)
        return _shift_each(x, [(dy, dx)] * len(x))

    def diagonal_only(x, max_shift, rng):
        d = rng.integers(-max_shift, max_shift + 1, len(x))
        return _shift_each(x, np.stack([d, d], axis=1))

    def rows_only(x, max_shift, rng):
        d = rng.integers(-max_shift, max_shift + 1, len(x))
        return _shift_each(x, np.stack([d, 0 * d], axis=1))

    def global_generator(x, max_shift, rng):
        return _shift_each(x, np.random.randint(-max_shift, max_shift + 1, (len(x), 2)))

    def per_channel(x, max_shift, rng):
        out = np.empty_like(x)
        for c in range(x.shape[1]):
            shifts = rng.integers(-max_shift, max_shift + 1, (len(x), 2))
            out[:, c:c + 1] = _shift_each(x[:, c:c + 1], shifts)
        return out

    def float64(x, max_shift, rng):
        return _shift_each(x, rng.integers(-max_shift, max_shift + 1, (len(x), 2))).astype(float)

    _fails("random_shift", [rolls], "np.roll")
    _fails("random_shift", [excludes_the_largest], r"both included")
    _fails("random_shift", [one_shift_for_all], "independently")
    _fails("random_shift", [diagonal_only], "independently")
    _fails("random_shift", [rows_only], "not moved at all")
    _fails("random_shift", [global_generator], "seeded alike")
    _fails("random_shift", [per_channel], "all channels")
    _fails("random_shift", [float64], "expected dtype float32")


def test_shifted_moves_and_fills():
    image = np.arange(1, 13, dtype=float).reshape(1, 3, 4)
    assert np.array_equal(ch11._shifted(image, 0, 0), image)
    assert np.array_equal(ch11._shifted(image, 1, -1)[0],
                          [[0, 0, 0, 0], [2, 3, 4, 0], [6, 7, 8, 0]])
    assert ch11._which_shift(ch11._shifted(image, -1, 2), image, 2) == (-1, 2)


# ----------------------------------------------------------------------------
# k_fold_indices
# ----------------------------------------------------------------------------

def test_k_fold_indices_wrong_answers():
    def pairs(parts):
        return [(np.concatenate([p for j, p in enumerate(parts) if j != i]), part)
                for i, part in enumerate(parts)]

    def not_shuffled(n, k, rng):
        return pairs(np.array_split(np.arange(n), k))

    def global_generator(n, k, rng):
        return pairs(np.array_split(np.random.permutation(n), k))

    def drops_the_rest(n, k, rng):
        order = rng.permutation(n)
        size = n // k
        return pairs([order[i * size:(i + 1) * size] for i in range(k)])

    def last_part_takes_the_rest(n, k, rng):
        order, size = rng.permutation(n), n // k
        return pairs([order[i * size:(i + 1) * size] for i in range(k - 1)]
                     + [order[(k - 1) * size:]])

    def swapped(n, k, rng):
        return [(val, train) for train, val in pairs(np.array_split(rng.permutation(n), k))]

    def lists(n, k, rng):
        return [(list(train), list(val)) for train, val in
                pairs(np.array_split(rng.permutation(n), k))]

    _fails("k_fold_indices", [not_shuffled], "differently seeded")
    _fails("k_fold_indices", [global_generator], "seeded alike")
    _fails("k_fold_indices", [drops_the_rest], "exactly once")
    _fails("k_fold_indices", [last_part_takes_the_rest], "differ by at most one")
    _fails("k_fold_indices", [swapped], "exactly one fold")
    _fails("k_fold_indices", [lists], "NumPy array")


# ----------------------------------------------------------------------------
# add_weight_decay
# ----------------------------------------------------------------------------

def test_add_weight_decay_wrong_answers():
    def decays_biases(loss, params, grads, weight_decay):
        loss = loss + 0.5 * weight_decay * sum(np.sum(p * p) for p in params.values())
        return loss, {k: grads[k] + weight_decay * p for k, p in params.items()}

    def without_the_half(loss, params, grads, weight_decay):
        weights = [k for k, p in params.items() if p.ndim >= 2]
        loss = loss + weight_decay * sum(np.sum(params[k] ** 2) for k in weights)
        return loss, {k: grads[k] + (weight_decay * params[k] if k in weights else 0)
                      for k in params}

    def twice_the_gradient(loss, params, grads, weight_decay):
        weights = [k for k, p in params.items() if p.ndim >= 2]
        loss = loss + 0.5 * weight_decay * sum(np.sum(params[k] ** 2) for k in weights)
        return loss, {k: grads[k] + (2 * weight_decay * params[k] if k in weights else 0)
                      for k in params}

    def in_place(loss, params, grads, weight_decay):
        for k, p in params.items():
            if p.ndim >= 2:
                loss = loss + 0.5 * weight_decay * np.sum(p * p)
                grads[k] += weight_decay * p
        return loss, grads

    def biases_in_the_gradient(loss, params, grads, weight_decay):
        weights = [k for k, p in params.items() if p.ndim >= 2]
        loss = loss + 0.5 * weight_decay * sum(np.sum(params[k] ** 2) for k in weights)
        return loss, {k: grads[k] + weight_decay * params[k] for k in params}

    _fails("add_weight_decay", [decays_biases], "not biases")
    _fails("add_weight_decay", [without_the_half], r"weight_decay / 2")
    _fails("add_weight_decay", [twice_the_gradient], r"weight_decay \* W")
    _fails("add_weight_decay", [in_place], "in place")
    _fails("add_weight_decay", [biases_in_the_gradient], "biases are not decayed")


def test_the_forward_hint_names_no_slip_for_a_right_answer():
    rng = np.random.default_rng(0)
    x, gamma, beta = ch11._bn_case(rng)
    right = F.batch_norm_forward(x, gamma, beta)[0]
    slips = ch11._bn_slips(x, gamma, beta, 1e-5)
    assert _slip(right, slips) == ""
    assert all(_slip(value, slips) == hint for value, hint in slips)   # each slip is told apart

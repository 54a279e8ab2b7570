"""Softmax, log-softmax and the softmax cross-entropy loss with its gradient (chapter 2).

``cnnedu.SoftmaxCrossEntropy`` wraps ``softmax_cross_entropy`` as a loss object.
"""

import numpy as np

from .._checks import check_float, check_labels


def _check_scores(scores, who, ndim=None, layout=""):
    check_float(scores, "scores", who, ndim=ndim, layout=layout)
    if scores.ndim == 0 or scores.shape[-1] == 0:
        raise ValueError(f"{who}: scores must have at least one class along the last axis, "
                         f"got shape {scores.shape}")


def log_softmax(scores):
    """log softmax over the last axis, by the log-sum-exp trick.

    scores: (..., K) float32/float64 with K >= 1; returns the same shape and
    dtype. Subtracting the row maximum leaves the result unchanged
    mathematically but keeps every exp() in (0, 1], so nothing overflows and
    log never sees 0.

    Raises TypeError for a non-array or non-float scores, ValueError for a
    0-d array or K = 0.

    Chapter 2. Source: CS231n notes, "Linear classification".
    """
    _check_scores(scores, "log_softmax")
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(scores):
    """Probabilities over the last axis, exp(s_k) / sum_j exp(s_j); stable for any finite scores.

    scores: (..., K) float32/float64 with K >= 1; returns the same shape and
    dtype, each row summing to 1.

    Raises as ``log_softmax``.

    Chapter 2. Source: CS231n notes, "Linear classification".
    """
    _check_scores(scores, "softmax")
    shifted = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_cross_entropy(scores, y):
    """Mean cross-entropy of softmax(scores) against integer labels, and its gradient.

    scores: (N, K) float32/float64 with N, K >= 1; y: (N,) integer labels in [0, K).
    Returns (loss, dscores) with dscores = (softmax(scores) - onehot(y)) / N,
    of scores' dtype. NaN or +inf scores give a NaN loss (not checked).

    Raises TypeError for a non-float scores or non-integer labels, ValueError
    for wrong shapes, labels out of range, or N = 0 (a mean over no samples).

    Chapter 2. Source: CS231n notes, "Linear classification".
    """
    who = "softmax_cross_entropy"
    _check_scores(scores, who, 2, "(N, K)")
    N, K = scores.shape
    check_labels(y, N, K, who)
    if N == 0:
        raise ValueError(f"{who}: scores has no samples (shape {scores.shape}); "
                         "the mean loss over 0 samples is undefined")
    logp = log_softmax(scores)
    loss = -logp[np.arange(N), y].mean()
    dscores = np.exp(logp)
    dscores[np.arange(N), y] -= 1
    dscores /= N
    return loss, dscores

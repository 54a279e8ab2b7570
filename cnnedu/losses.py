"""Losses, called as ``loss(scores, y) -> (mean loss, dscores)``.

Chapter 2 derives softmax cross-entropy; ``cnnedu.train`` uses it by
default, so every chapter that trains with ``fit`` or ``train_step`` (3, 7,
8 and 10 to 13) uses it, and chapters 8, 10 and 11 call it directly.

scores: (N, K) float32 or float64 with N >= 1; y: (N,) integer class labels
in [0, K). dscores has the shape and dtype of scores. Anything else is a
TypeError or ValueError naming ``scores`` or the labels.

L2 weight decay lives in the optimisers (``weight_decay=``), which is the
same as adding ``0.5 * weight_decay * sum(W**2)`` to the loss.
"""

from . import functional as F
from ._checks import check_float, check_labels


def _check_scores_and_labels(scores, y, who):
    check_float(scores, "scores", who)
    if scores.ndim != 2 or 0 in scores.shape:
        raise ValueError(f"{who}: scores must have shape (N, K) with N >= 1 samples and K >= 1 "
                         f"classes, got {scores.shape}")
    check_labels(y, scores.shape[0], scores.shape[1], who)


class SoftmaxCrossEntropy:
    """Softmax followed by cross-entropy, fused for stability.

    scores: (N, K) float32/float64, y: (N,) integer class labels in [0, K).
    Returns the mean loss ``-mean(log softmax(scores)[i, y_i])`` and
    d(loss)/d(scores) = (softmax(scores) - onehot(y)) / N, shape (N, K), same dtype.
    Raises TypeError for non-float scores or non-integer labels, ValueError
    for wrong shapes, zero samples or labels outside [0, K).

    Chapter 2. Source: CS231n notes, "Softmax classifier".
    """

    def __call__(self, scores, y):
        _check_scores_and_labels(scores, y, "SoftmaxCrossEntropy")
        return F.softmax_cross_entropy(scores, y)

    def __repr__(self):
        return "SoftmaxCrossEntropy()"

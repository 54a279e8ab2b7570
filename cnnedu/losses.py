"""Losses. Each is called as ``loss(scores, y) -> (mean loss, dscores)``.

L2 weight decay lives in the optimisers (``weight_decay=``), which is the
same as adding ``0.5 * weight_decay * sum(W**2)`` to the loss.
"""

import numpy as np

from . import functional as F


class SoftmaxCrossEntropy:
    """Softmax followed by cross-entropy, fused for stability.

    scores: (N, K) floats, y: (N,) integer class labels in [0, K).
    Returns the mean loss and d(loss)/d(scores), shape (N, K).
    """

    def __call__(self, scores, y):
        return F.softmax_cross_entropy(scores, y)

    def __repr__(self):
        return "SoftmaxCrossEntropy()"


class MSE:
    """Mean squared error against one-hot targets, for comparison with cross-entropy.

    Loss is ``0.5 * sum((scores - onehot(y))**2) / N``.
    """

    def __call__(self, scores, y):
        if not isinstance(scores, np.ndarray) or scores.ndim != 2:
            raise ValueError(f"MSE: scores must have shape (N, K), got "
                             f"{getattr(scores, 'shape', type(scores).__name__)}")
        N, K = scores.shape
        F.check_labels(y, N, K, "MSE")
        diff = scores.copy()
        diff[np.arange(N), y] -= 1
        return 0.5 * np.sum(diff * diff) / N, diff / N

    def __repr__(self):
        return "MSE()"

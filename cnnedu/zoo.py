"""Ready-made models used by the chapters and the benchmarks."""

from . import layers as L
from .model import Sequential
from ._checks import as_generator


def mnist_cnn(rng=None):
    """The MNIST chapter's CNN (about 420k parameters), input (N, 1, 28, 28):

    conv 3x3, 32 (pad 1) -> ReLU -> max-pool 2 -> conv 3x3, 64 (pad 1) -> ReLU -> max-pool 2
    -> Flatten -> Linear 3136 -> 128 -> ReLU -> Linear 128 -> 10
    """
    rng = as_generator(rng)
    return Sequential([
        L.Conv2D(1, 32, 3, padding=1, rng=rng), L.ReLU(), L.MaxPool2D(2),
        L.Conv2D(32, 64, 3, padding=1, rng=rng), L.ReLU(), L.MaxPool2D(2),
        L.Flatten(), L.Linear(64 * 7 * 7, 128, rng=rng), L.ReLU(),
        L.Linear(128, 10, init="xavier", rng=rng),
    ])


def lenet5(rng=None):
    """LeNet-5 (LeCun et al. 1998) with ReLU and max-pooling, for 28x28 input:

    conv 5x5, 6 (pad 2) -> ReLU -> max-pool 2 -> conv 5x5, 16 -> ReLU -> max-pool 2
    -> Flatten -> Linear 400 -> 120 -> ReLU -> Linear 120 -> 84 -> ReLU -> Linear 84 -> 10
    """
    rng = as_generator(rng)
    return Sequential([
        L.Conv2D(1, 6, 5, padding=2, rng=rng), L.ReLU(), L.MaxPool2D(2),
        L.Conv2D(6, 16, 5, rng=rng), L.ReLU(), L.MaxPool2D(2),
        L.Flatten(), L.Linear(16 * 5 * 5, 120, rng=rng), L.ReLU(),
        L.Linear(120, 84, rng=rng), L.ReLU(), L.Linear(84, 10, init="xavier", rng=rng),
    ])

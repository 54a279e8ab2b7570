"""Ready-made models and the MNIST training recipe.

Chapter 10 trains ``mnist_cnn`` with ``MnistRecipe``; chapter 12 rebuilds
``lenet5`` by hand and checks it against this one. ``benchmarks/`` times the
same model and recipe, so the book and the benchmark measure one thing.
"""

import dataclasses
import math

from . import layers as L
from ._checks import as_generator, int_arg, real
from .model import Sequential
from .optim import warmup_cosine


def mnist_cnn(rng=None):
    """The MNIST chapter's CNN, 207,018 float32 parameters (96 of them batch-norm scales and
    shifts).

    conv 3x3, 16 (pad 1) -> max-pool 2 -> batch norm -> ReLU
    -> conv 3x3, 32 (pad 1) -> max-pool 2 -> batch norm -> ReLU
    -> Flatten -> Linear 1568 -> 128 -> ReLU -> Linear 128 -> 10

    Built for speed to 99%: narrow convolutions cost little per step, and
    batch normalisation (chapter 11) lets a high learning rate reach 99% in
    two epochs. Pooling comes first in each block, so that batch norm and
    ReLU work on a quarter of the values. (Max pooling and ReLU commute:
    max(relu(a), relu(b)) = relu(max(a, b)). Batch norm after pooling takes
    its statistics over the pooled values, a slightly different network from
    conv -> batch norm -> pool, and just as good.) The layers with
    parameters are at indices 0, 2, 4, 6, 9 and 11. The first conv is built
    with ``input_grad=False``: the images need no gradient, so ``backward``
    skips it and returns None.

    Input (N, 1, 28, 28) float32, output (N, 10) class scores. He
    initialisation, Xavier for the last layer; ``rng`` follows the rule of
    ``cnnedu.layers`` (Generator, int seed or None) and draws the layers'
    weights in order. Raises TypeError/ValueError for a bad ``rng``.
    Chapter 10. Sources: the small MNIST CNNs of the Keras and PyTorch
    examples (two 3x3 convs and a dense layer of 128), here at half their
    width; Ioffe and Szegedy (2015), *Batch normalization*.
    """
    rng = as_generator(rng, "mnist_cnn: rng")
    return Sequential([
        L.Conv2D(1, 16, 3, padding=1, rng=rng, input_grad=False), L.MaxPool2D(2),
        L.BatchNorm2D(16), L.ReLU(),
        L.Conv2D(16, 32, 3, padding=1, rng=rng), L.MaxPool2D(2), L.BatchNorm2D(32), L.ReLU(),
        L.Flatten(), L.Linear(32 * 7 * 7, 128, rng=rng), L.ReLU(),
        L.Linear(128, 10, init="xavier", rng=rng),
    ])


def lenet5(rng=None):
    """LeNet-5 with ReLU and max-pooling, 61,706 float32 parameters.

    conv 5x5, 6 (pad 2) -> ReLU -> max-pool 2 -> conv 5x5, 16 -> ReLU -> max-pool 2
    -> Flatten -> Linear 400 -> 120 -> ReLU -> Linear 120 -> 84 -> ReLU -> Linear 84 -> 10

    Input (N, 1, 28, 28) float32, output (N, 10) class scores; ``rng`` as in
    ``mnist_cnn``. Raises TypeError/ValueError for a bad ``rng``. Chapter 12.
    Source: LeCun, Bottou, Bengio and Haffner (1998), *Gradient-based
    learning applied to document recognition* (tanh and average pooling there).
    """
    rng = as_generator(rng, "lenet5: rng")
    return Sequential([
        L.Conv2D(1, 6, 5, padding=2, rng=rng), L.ReLU(), L.MaxPool2D(2),
        L.Conv2D(6, 16, 5, rng=rng), L.ReLU(), L.MaxPool2D(2),
        L.Flatten(), L.Linear(16 * 5 * 5, 120, rng=rng), L.ReLU(),
        L.Linear(120, 84, rng=rng), L.ReLU(), L.Linear(84, 10, init="xavier", rng=rng),
    ])


@dataclasses.dataclass(frozen=True)
class MnistRecipe:
    """How chapter 10 and the benchmark train ``mnist_cnn`` on MNIST.

    Fields:

    * ``seed`` (int >= 0): one generator, ``np.random.default_rng(seed)``, first
      draws the initial weights (``mnist_cnn(rng)``) and then, through
      ``Sequential.fit(..., rng=rng)``, the order of the training images at the
      start of every epoch;
    * ``batch_size`` (int >= 1): images per step;
    * ``peak_lr`` (float >= 0): Adam's largest learning rate;
    * ``warmup_fraction`` (float in [0, 1)): the share of all steps over which
      the learning rate rises linearly to ``peak_lr``; a half cosine then
      brings it down to 0 at the last step;
    * ``epochs`` (int >= 1): passes over the training set;
    * ``target_accuracy`` (float in (0, 1]): the test accuracy the recipe is
      expected to reach; test accuracy is measured after every epoch.

    Inputs are standardised with the training set's mean and standard
    deviation. Raises TypeError/ValueError, naming the field, for a value of
    the wrong type or out of range. Chapter 10; ``benchmarks/time_to_99.py``.
    Sources: Kingma and Ba (2015), *Adam*; Goyal et al. (2017) (warm-up);
    Loshchilov and Hutter (2017), *SGDR* (cosine).
    """

    seed: int = 0
    batch_size: int = 128
    peak_lr: float = 1e-2
    warmup_fraction: float = 0.03
    epochs: int = 2
    target_accuracy: float = 0.99

    def __post_init__(self):
        who = "MnistRecipe"
        int_arg(self.seed, "seed", who, 0)
        int_arg(self.batch_size, "batch_size", who, 1)
        int_arg(self.epochs, "epochs", who, 1)
        real(self.peak_lr, "peak_lr", who, 0)
        real(self.warmup_fraction, "warmup_fraction", who, 0, 1)
        real(self.target_accuracy, "target_accuracy", who, 0)
        if not 0 < self.target_accuracy <= 1:
            raise ValueError(f"{who}: target_accuracy must be in (0, 1], "
                             f"got {self.target_accuracy}")

    def total_steps(self, n_train):
        """Optimiser steps of the whole training on ``n_train`` images (an int >= 1).

        ``epochs * ceil(n_train / batch_size)``: the last batch of an epoch may
        be smaller. Raises TypeError/ValueError for a bad ``n_train``.
        """
        n_train = int_arg(n_train, "n_train", "MnistRecipe.total_steps", 1)
        return self.epochs * math.ceil(n_train / self.batch_size)

    def schedule(self, total_steps):
        """The learning rate as a function of the 0-based step: ``warmup_cosine``.

        ``cnnedu.optim.warmup_cosine(peak_lr, total_steps, warmup_fraction)``;
        pass it as ``lr`` to ``cnnedu.Adam``. ``total_steps`` is an int >= 2
        (see ``total_steps``); TypeError/ValueError otherwise.
        """
        return warmup_cosine(self.peak_lr, total_steps, self.warmup_fraction)

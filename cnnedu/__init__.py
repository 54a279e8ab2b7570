"""cnnedu: convolutional neural networks from scratch with NumPy.

What a chapter derives, the package provides; from then on the chapters import it.
Chapter by chapter, the code each one builds or first uses:

=====  ======================  ==============================================================
ch.    chapter                 package code
=====  ======================  ==============================================================
2      linear softmax          ``functional`` softmax, softmax_cross_entropy;
                               ``losses.SoftmaxCrossEntropy``; ``datasets.spiral``;
                               ``plot.plot_boundary``
3      two-layer net           ``layers`` Linear, ReLU; ``model.Sequential``; ``optim.SGD``;
                               ``train.train_step``
4      backprop, grad checks   ``gradcheck`` (numerical gradients, rel_error, check_layer)
5      convolution             ``functional`` im2col, col2im, conv2d_forward/backward;
                               ``reference`` (loop twins); ``layers.Conv2D``
6      pooling                 ``functional`` max/avg_pool2d_forward/backward; ``layers`` pools
7      toy images              ``datasets.lines_and_squares``; ``train.fit``;
                               ``plot.image_grid``
8      training tools          ``optim`` Momentum, Nesterov, RMSprop, Adam; ``init``;
                               ``functional`` tanh, leaky ReLU
9      bug hunt                ``gradcheck`` numerical_gradient_array, rel_error
10     MNIST                   ``datasets`` (IDX reader, load_mnist); ``zoo`` mnist_cnn,
                               MnistRecipe (with ``layers.BatchNorm2D``, chapter 11's);
                               ``optim.warmup_cosine``; ``train`` callbacks; ``checkpoint``
11     generalisation          ``layers`` Dropout, BatchNorm1D/2D; ``functional`` batch_norm;
                               ``optim`` weight_decay, warmup_cosine
12     architectures           ``zoo.lenet5``
13     capstone                the learner's own functions (checked by ``exercises``)
=====  ======================  ==============================================================

Exercise checks (``check``) are in ``exercises`` (one module per chapter); the
instructor's tools (release, grade, the sandboxed worker) in ``grading``.
Argument checks shared by every module are in the private ``_checks``.
``plot`` (matplotlib) is imported on demand: ``from cnnedu.plot import plot_boundary``.
"""

from . import (checkpoint, datasets, functional, gradcheck, init, layers, losses, optim, reference,
               train, zoo)
from .layers import (AvgPool2D, BatchNorm1D, BatchNorm2D, Conv2D, Dropout, Flatten, LeakyReLU,
                     Linear, MaxPool2D, ReLU, Sigmoid, Tanh)
from .losses import SoftmaxCrossEntropy
from .model import Sequential
from .optim import SGD, Adam, Momentum, Nesterov, RMSprop
from .train import TrainingDiverged

__version__ = "0.1.0"

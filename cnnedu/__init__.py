"""cnnedu: convolutional neural networks from scratch with NumPy.

Modules map onto the course's chapters:

- ``functional``: conv, pooling, activation and softmax kernels (forward/backward)
- ``reference``: the same conv and pooling as plain loops, for comparison
- ``layers``: Conv2D, MaxPool2D, AvgPool2D, Linear, ReLU, ..., Dropout, BatchNorm1D/2D
- ``losses``, ``optim``, ``init``: losses, optimisers, initialisers
- ``model``: Sequential with fit / predict / accuracy / summary / save / load
- ``gradcheck``: numerical gradients and relative errors
- ``datasets``: spiral, lines_and_squares, MNIST, a sample photo
- ``zoo``: the MNIST chapter's CNN and LeNet-5
"""

from . import datasets, functional, gradcheck, init, layers, losses, optim, reference, zoo
from .layers import (AvgPool2D, BatchNorm1D, BatchNorm2D, Conv2D, Dropout, Flatten, LeakyReLU,
                     Linear, MaxPool2D, ReLU, Sigmoid, Tanh)
from .losses import MSE, SoftmaxCrossEntropy
from .model import Sequential, TrainingDiverged
from .optim import SGD, Adam, Momentum, Nesterov, RMSprop

__version__ = "0.1.0"

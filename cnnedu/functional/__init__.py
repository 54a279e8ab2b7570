"""Kernels: convolution, pooling, activations, softmax and batch norm as plain functions.

One module per idea, in the order of the chapters that build them:

==============================  =============================================  ========
module                          functions                                      chapters
==============================  =============================================  ========
``functional.cross_entropy``    softmax, log_softmax, softmax_cross_entropy    2
``functional.activations``      relu, sigmoid, tanh, leaky_relu (fwd/bwd)      3, 4, 8
``functional.conv``             conv_output_size, im2col, col2im, conv2d       4, 5
``functional.pool``             max_pool2d, avg_pool2d (forward/backward)      6
``functional.norm``             batch_norm (forward/backward)                  11
==============================  =============================================  ========

Import them from here: ``from cnnedu import functional as F; F.conv2d_forward``.
``cnnedu.layers`` wraps them in classes and ``cnnedu.reference`` holds
loop-based twins of conv, pooling and batch norm to test against.

Every layer is a pair ``*_forward(x, ...) -> (out, cache)`` and
``*_backward(dout, cache) -> grads``, in the style of CS231n's ``layers.py``.
Tensors are NCHW. No Python loop runs over samples or pixels; the only loops
are over the ``kh * kw`` filter offsets and over chunks of the batch.

What the public functions accept (anything else raises TypeError for a wrong
type or dtype, ValueError for a wrong shape or value; the message names the
argument, what it got and what it expected; the checks live in
``cnnedu._checks``):

* **Arrays** are NumPy arrays of float32 or float64; convert images with
  ``x.astype(np.float32) / 255``. The other arrays of a call (``w``, ``b``,
  ``dout``) must have the dtype of ``x`` (of the forward output for
  ``dout``): float32 stays float32 and nothing is converted behind your back.
* **Geometry.** ``kernel_size`` (>= 1), ``stride`` (>= 1) and ``padding``
  (>= 0) are an int or a pair of ints ``(height, width)``, as in PyTorch;
  bools are not ints. A window larger than the padded input is an error.
* **dout** must have the shape and dtype of the forward output.
* **Zero samples** (N = 0) give empty outputs and gradients of the right
  shapes. Only ``softmax_cross_entropy`` refuses them: its mean would be 0/0.
* **NaN and inf are not checked** (that would cost a pass over the data);
  they go through as IEEE arithmetic says: relu(-inf) = 0, sigmoid(+-inf) =
  1 or 0, leaky_relu(-inf) = -inf (NaN for alpha = 0: 0 * -inf), and a
  NaN or +inf score makes the loss NaN, which ``Sequential.fit`` reports.
  A max-pooling window containing NaN outputs NaN and passes no gradient.

Speed notes (measured in ``benchmarks/``):

* **Channels-last inside.** The public layout is NCHW, but conv and pooling
  work on an NHWC copy: then one im2col row is ``kh * kw * C`` contiguous
  values, and the convolution is one matrix multiply. The output is returned
  as an NCHW *view* of NHWC memory (``transpose`` costs nothing), so the next
  conv, pool or batch norm gets its NHWC array back for free.
* **Long copies.** A copy is fast when its innermost runs are long. im2col
  takes every window at once as a view (``sliding_window_view``) and copies
  it into rows in runs of ``kw * C`` values. With one input channel it keeps
  the columns offset-major in memory instead (each filter offset's values
  together), so that each offset is one copy along image rows; the matrix
  multiply reads that memory as a transposed matrix, at no cost.
* **dx without col2im.** The input gradient of a conv is built per filter
  offset (i, j): ``dout @ w[:, :, i, j]`` is that offset's share, added to
  the input shifted by (i, j). Each addition runs along image rows; col2im's
  additions are runs of C values, several times slower.
* **Column sums by BLAS.** ``rows.sum(axis=0)`` over an (M, C) array with few
  columns adds one row at a time; ``ones @ rows`` (a matrix-vector product)
  is several times faster. conv's db and batch norm's sums use it.
* **Per-channel vectors along whole images.** Adding a bias (C,) to
  (N*H*W, C) rows runs NumPy's inner loop over only C values. Viewing the same
  NHWC memory as (N, H*W*C), one row per image, and adding the vector
  repeated H*W times (``np.tile``) gives the same sums several times faster:
  conv's bias and every step of batch norm work this way.
* **float32 stays float32.** Every buffer is made with ``dtype=x.dtype``; a
  stray ``np.zeros(shape)`` would silently switch to float64 and cost 2x.
* **No ``np.add.at``.** col2im (chapter 5's lesson) adds one strided slice
  per filter offset, several times faster than scattering with ``np.add.at``.
* **Checks are O(1).** They look at types, shapes and dtypes, never at the
  values of an array (only the range of integer labels is checked).
* **Tiling max pooling is a reshape.** When the stride equals the kernel
  (the usual 2x2, stride 2), the windows tile the input, so reshaping NHWC
  to (N, OH, kh, OW, kw, C) names every window without a copy; a few
  ``np.maximum`` calls give the output, and backward routes ``dout`` with one
  mask, ``input == its window's max``. The maxima and ``dout`` are repeated
  along W first, so the mask and the product run along image rows rather
  than C values at a time. Ties are common (MNIST's flat background, zeros
  after ReLU); when the mask holds more Trues than there are windows, each
  window keeps its first by comparing the mask with shifted copies of itself,
  again along whole rows.
* **Pool first.** Max pooling and ReLU commute, so ``cnnedu.zoo.mnist_cnn``
  pools first and its batch norms and ReLUs touch a quarter of the values.
* **No gradient for the images.** ``conv2d_backward(..., input_grad=False)``
  (``Conv2D(..., input_grad=False)``, used by a network's first layer) skips
  dx: its kh * kw matrix products and additions.
* **Batch chunks that stay in cache.** conv2d builds the im2col matrix one
  batch chunk of about ``conv.CHUNK_BYTES`` (8 MiB) at a time and multiplies
  it at once, so the matrix product reads values that are still in the CPU
  cache instead of main memory. Smaller chunks measured slower: many small products use the
  BLAS less well.
"""

from .activations import (leaky_relu_backward, leaky_relu_forward, relu_backward, relu_forward,
                          sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward)
from .conv import col2im, conv2d_backward, conv2d_forward, conv_output_size, im2col
from .norm import BatchNormCache, batch_norm_backward, batch_norm_forward
from .pool import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from .cross_entropy import log_softmax, softmax, softmax_cross_entropy

__all__ = [
    "conv_output_size", "im2col", "col2im",
    "conv2d_forward", "conv2d_backward",
    "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d_forward", "avg_pool2d_backward",
    "relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
    "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
    "softmax", "log_softmax", "softmax_cross_entropy",
    "batch_norm_forward", "batch_norm_backward", "BatchNormCache",
]

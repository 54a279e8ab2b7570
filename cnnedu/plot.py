"""Plot helpers that several chapters share: decision boundaries and grids of images.

``plot_boundary`` colours the plane by a classifier's prediction and draws 2-D
data on top (chapters 2 and 3, the landing page). ``image_grid`` draws small
images side by side, each with its own title and no ticks: digits, toy
images, learned filters (chapters 7, 10 and 11, the landing page).

Both only draw: they set titles and axis labels but call neither
``tight_layout`` nor ``show``, so a chapter can add labels, a colour bar or
a suptitle first.
"""

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap

from ._checks import int_arg

__all__ = ["plot_boundary", "image_grid"]

# Chapters 2 and 3 colour class k with matplotlib's k-th cycle colour (tab:blue, tab:orange, ...).
_TAB10 = plt.get_cmap("tab10").colors


def plot_boundary(predict, X, y, ax, title="", resolution=250):
    """Colour the plane by the class ``predict`` gives each point, and draw the data on top.

    predict: a function from points (M, 2), of X's dtype, to integer class
    labels (M,), e.g. ``lambda points: (points @ W + b).argmax(axis=1)`` or
    ``model.predict``. X: (N, 2) float array; y: (N,) integer labels >= 0,
    class k drawn in matplotlib's k-th cycle colour (at most 10 classes).
    The plane shown is the range of X with a margin of a tenth of the range on
    every side, sampled on a ``resolution`` x ``resolution`` grid. Sets the
    title, the axis labels $x_1$, $x_2$ and an equal aspect; returns ``ax``.

    Raises TypeError for a predict that is not callable, an ax that is not a
    matplotlib Axes, a non-float X, non-integer y, or predictions that are not
    integer labels; ValueError for wrong shapes, negative labels, more than 10
    classes or a resolution below 2. Chapters 2 and 3 and the landing page
    (after the CS231n notes' "Minimal neural network case study").
    """
    who = "plot_boundary"
    if not callable(predict):
        raise TypeError(f"{who}: predict must be a function from points (M, 2) to labels (M,), "
                        f"got {type(predict).__name__}")
    if not isinstance(X, np.ndarray) or X.dtype.kind != "f":
        got = f"dtype {X.dtype}" if isinstance(X, np.ndarray) else type(X).__name__
        raise TypeError(f"{who}: X must be a float array of shape (N, 2), got {got}")
    if X.ndim != 2 or X.shape[1] != 2 or len(X) == 0:
        raise ValueError(f"{who}: X must have shape (N, 2) with N >= 1, got {X.shape}")
    if not isinstance(y, np.ndarray) or y.dtype.kind not in "iu":
        got = f"dtype {y.dtype}" if isinstance(y, np.ndarray) else type(y).__name__
        raise TypeError(f"{who}: y must be an integer array of labels, got {got}")
    if y.shape != (len(X),):
        raise ValueError(f"{who}: y must have shape ({len(X)},), one label per row of X, "
                         f"got {y.shape}")
    if y.min() < 0:
        raise ValueError(f"{who}: labels must be >= 0, got {y.min()}")
    if not isinstance(ax, Axes):
        raise TypeError(f"{who}: ax must be a matplotlib Axes (e.g. from plt.subplots()), "
                        f"got {type(ax).__name__}")
    resolution = int_arg(resolution, "resolution", who, 2)

    low, high = X.min(axis=0), X.max(axis=0)
    margin = 0.1 * np.maximum(high - low, 1e-12)
    xx, yy = np.meshgrid(np.linspace(low[0] - margin[0], high[0] + margin[0], resolution),
                         np.linspace(low[1] - margin[1], high[1] + margin[1], resolution))
    points = np.c_[xx.ravel(), yy.ravel()].astype(X.dtype)
    labels = np.asarray(predict(points))
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{who}: predict must return integer class labels, got dtype "
                        f"{labels.dtype}; for class scores return scores.argmax(axis=1)")
    if labels.shape != (len(points),):
        raise ValueError(f"{who}: predict must return one label per point, shape "
                         f"({len(points)},), got {labels.shape}")
    n_classes = int(max(y.max(), labels.max())) + 1
    if labels.min() < 0 or n_classes > len(_TAB10):
        raise ValueError(f"{who}: labels must be in [0, {len(_TAB10) - 1}], got predictions "
                         f"from {labels.min()} to {labels.max()} and y up to {y.max()}")

    colours = ListedColormap(_TAB10[:n_classes])
    ax.contourf(xx, yy, labels.reshape(xx.shape), levels=np.arange(n_classes + 1) - 0.5,
                cmap=colours, alpha=0.3)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=colours, vmin=-0.5, vmax=n_classes - 0.5, s=10,
               edgecolors="k", linewidths=0.3)
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    return ax


def image_grid(images, titles=None, ncols=None, cmap="gray", vmin=None, vmax=None,
               figsize=None, fontsize=None, suptitle=None):
    """Draw images in a grid, row by row, each with its title and without ticks.

    images: a float or integer array (n, H, W), or a sequence of n 2-D arrays
    (their sizes may differ); for NCHW data pass ``x[:, 0]``. titles: None or
    n strings ("" for none). ncols: images per row (default: all in one row);
    the grid has ceil(n / ncols) rows, and its unused cells are hidden. cmap,
    vmin, vmax: as in ``plt.imshow``, for every image (e.g. a shared symmetric
    range ``vmin=-limit, vmax=limit`` for filters). figsize: inches (default
    1.2 per column, 1.3 per row). fontsize: of the titles (default: matplotlib's).
    suptitle: the figure's title, if given.

    Returns ``(fig, axes)``, axes an array of shape (rows, ncols); the images
    are ``ax.images[0]`` (e.g. for ``fig.colorbar``). Raises TypeError for an
    image that is not a numeric array or a title that is not a string;
    ValueError for no images, an image that is not 2-D, a titles list of
    another length, or ncols < 1. Chapters 7, 10 and 11 and the landing page.
    """
    who = "image_grid"
    if isinstance(images, np.ndarray):
        if images.ndim != 3:
            hint = "; for NCHW images pass x[:, 0]" if images.ndim == 4 else ""
            raise ValueError(f"{who}: images must have shape (n, H, W), got {images.shape}{hint}")
        images = list(images)
    elif not isinstance(images, (list, tuple)):
        raise TypeError(f"{who}: images must be an array (n, H, W) or a list of 2-D arrays, "
                        f"got {type(images).__name__}")
    if len(images) == 0:
        raise ValueError(f"{who}: images is empty; nothing to draw")
    for i, image in enumerate(images):
        if not isinstance(image, np.ndarray) or image.dtype.kind not in "biuf":
            got = f"dtype {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
            raise TypeError(f"{who}: images[{i}] must be a numeric array, got {got}")
        if image.ndim != 2:
            raise ValueError(f"{who}: images[{i}] must be 2-D (H, W), got shape {image.shape}")
    n = len(images)
    if titles is None:
        titles = [""] * n
    if isinstance(titles, str) or len(titles) != n:
        got = "a string" if isinstance(titles, str) else f"{len(titles)}"
        raise ValueError(f"{who}: titles must be a list of {n} strings, one per image, got {got}")
    for i, title in enumerate(titles):
        if not isinstance(title, str):
            raise TypeError(f"{who}: titles[{i}] must be a string, got {title!r}")
    ncols = n if ncols is None else int_arg(ncols, "ncols", who, 1)
    nrows = math.ceil(n / ncols)

    fig, axes = plt.subplots(nrows, ncols, figsize=figsize or (1.2 * ncols, 1.3 * nrows),
                             squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_xticks([])
        ax.set_yticks([])
        if title:
            ax.set_title(title, fontsize=fontsize)
    if suptitle is not None:
        fig.suptitle(suptitle)
    return fig, axes

"""cnnedu.plot: what each helper draws (artists, colours, titles), and its errors.

Drawn with the Agg backend; the checks read the matplotlib objects, not pixels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from cnnedu.plot import image_grid, plot_boundary  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def two_blobs(dtype=np.float32):
    X = np.array([[-1.0, 0.0], [-0.5, 0.5], [0.5, -0.5], [1.0, 0.0]], dtype=dtype)
    y = np.array([0, 0, 1, 1])
    return X, y


def right_of_zero(points):
    return (points[:, 0] > 0).astype(np.int64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plot_boundary_colours_the_regions_and_draws_every_point(dtype):
    X, y = two_blobs(dtype)
    seen = []

    def predict(points):
        seen.append(points)
        return right_of_zero(points)

    _, ax = plt.subplots()
    assert plot_boundary(predict, X, y, ax, "two halves", resolution=40) is ax
    assert len(seen) == 1 and seen[0].shape == (40 * 40, 2) and seen[0].dtype == dtype
    # The grid covers the data with a margin, so every point lies inside the coloured plane.
    assert seen[0].min(axis=0) == pytest.approx([-1.2, -0.6], abs=1e-6)
    assert seen[0].max(axis=0) == pytest.approx([1.2, 0.6], abs=1e-6)

    (regions,) = [c for c in ax.collections if hasattr(c, "levels")]
    assert list(regions.levels) == [-0.5, 0.5, 1.5]           # one band per class
    (points,) = [c for c in ax.collections if not hasattr(c, "levels")]
    assert np.allclose(points.get_offsets(), X)
    # Class k is drawn in matplotlib's k-th cycle colour, also when a class is missing from y.
    colours = points.to_rgba(points.get_array())
    assert np.allclose(colours[y == 0], to_rgba("tab:blue"))
    assert np.allclose(colours[y == 1], to_rgba("tab:orange"))
    assert ax.get_title() == "two halves"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$x_1$", "$x_2$")


def test_plot_boundary_keeps_each_class_colour_when_the_data_lacks_a_class():
    X, _ = two_blobs()
    y = np.array([1, 1, 2, 2])                                # no point of class 0
    _, ax = plt.subplots()
    plot_boundary(lambda p: 2 * right_of_zero(p), X, y, ax, resolution=10)
    (regions,) = [c for c in ax.collections if hasattr(c, "levels")]
    assert list(regions.levels) == [-0.5, 0.5, 1.5, 2.5]      # three classes: 0, 1, 2
    assert np.allclose(regions.to_rgba(regions.layers),
                       [to_rgba(c) for c in ("tab:blue", "tab:orange", "tab:green")])
    (points,) = [c for c in ax.collections if not hasattr(c, "levels")]
    colours = points.to_rgba(points.get_array())
    assert np.allclose(colours[:2], to_rgba("tab:orange"))
    assert np.allclose(colours[2:], to_rgba("tab:green"))


@pytest.mark.parametrize("change, error, message", [
    (dict(predict="not a function"), TypeError, "predict must be a function"),
    (dict(X=[[0.0, 1.0]]), TypeError, "X must be a float array"),
    (dict(X=np.zeros((4, 3))), ValueError, r"X must have shape \(N, 2\)"),
    (dict(y=np.zeros(4)), TypeError, "y must be an integer array"),
    (dict(y=np.zeros(3, dtype=int)), ValueError, r"y must have shape \(4,\)"),
    (dict(y=np.array([0, -1, 1, 1])), ValueError, "labels must be >= 0"),
    (dict(ax="axes"), TypeError, "ax must be a matplotlib Axes"),
    (dict(predict=lambda p: p @ np.ones((2, 3))), TypeError, "return integer class labels"),
    (dict(predict=lambda p: right_of_zero(p)[:5]), ValueError, "one label per point"),
    (dict(predict=lambda p: 10 + right_of_zero(p)), ValueError, r"labels must be in \[0, 9\]"),
    (dict(resolution=1), ValueError, "resolution must be an int >= 2"),
])
def test_plot_boundary_names_the_bad_argument(change, error, message):
    X, y = two_blobs()
    _, ax = plt.subplots()
    args = dict(predict=right_of_zero, X=X, y=y, ax=ax) | change
    with pytest.raises(error, match=message):
        plot_boundary(**args)


def test_image_grid_draws_each_image_with_its_title_and_hides_spare_cells():
    images = np.arange(5 * 3 * 4, dtype=np.float32).reshape(5, 3, 4)
    titles = [f"image {i}" for i in range(5)]
    fig, axes = image_grid(images, titles, ncols=3, cmap="RdBu_r", vmin=-1, vmax=1,
                           fontsize=7, suptitle="five images")
    assert axes.shape == (2, 3) and len(fig.axes) == 6
    drawn = axes.flat[:5]
    assert [len(ax.images) for ax in axes.flat] == [1, 1, 1, 1, 1, 0]
    assert not axes[1, 2].axison and all(ax.axison for ax in drawn)
    for i, ax in enumerate(drawn):
        image = ax.images[0]
        assert np.array_equal(image.get_array(), images[i])
        assert image.get_cmap().name == "RdBu_r" and image.get_clim() == (-1, 1)
        assert ax.get_title() == titles[i] and ax.title.get_fontsize() == 7
        assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    assert fig._suptitle.get_text() == "five images"


def test_image_grid_takes_images_of_different_sizes_and_defaults_to_one_row():
    images = [np.zeros((6, 5)), np.ones((3, 3), dtype=np.uint8)]
    fig, axes = image_grid(images)
    assert axes.shape == (1, 2)
    assert [ax.images[0].get_array().shape for ax in axes.flat] == [(6, 5), (3, 3)]
    assert [ax.get_title() for ax in axes.flat] == ["", ""]
    assert fig._suptitle is None


@pytest.mark.parametrize("args, error, message", [
    (dict(images=np.zeros((2, 1, 4, 4))), ValueError, r"pass x\[:, 0\]"),
    (dict(images=[]), ValueError, "images is empty"),
    (dict(images="pictures"), TypeError, "images must be an array"),
    (dict(images=[np.zeros((2, 2)), np.zeros((2, 2, 3))]), ValueError,
     r"images\[1\] must be 2-D"),
    (dict(images=[np.array([["a"]])]), TypeError, r"images\[0\] must be a numeric array"),
    (dict(images=np.zeros((3, 2, 2)), titles=["a", "b"]), ValueError, "a list of 3 strings"),
    (dict(images=np.zeros((1, 2, 2)), titles="a"), ValueError, "got a string"),
    (dict(images=np.zeros((1, 2, 2)), titles=[7]), TypeError, r"titles\[0\] must be a string"),
    (dict(images=np.zeros((3, 2, 2)), ncols=0), ValueError, "ncols must be an int >= 1"),
])
def test_image_grid_names_the_bad_argument(args, error, message):
    with pytest.raises(error, match=message):
        image_grid(**args)

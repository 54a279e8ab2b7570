"""Datasets: toy sets made on the fly, MNIST from disk or a mirror, and a sample photo."""

from .toy import lines_and_squares, spiral, train_test_split

__all__ = ["spiral", "lines_and_squares", "train_test_split", "load_mnist", "sample_image"]


def __getattr__(name):
    # Imported on first use, so that `python -m cnnedu.datasets.mnist` runs the
    # module once (an eager import here would make Python warn about it).
    if name == "load_mnist":
        from .mnist import load_mnist
        return load_mnist
    if name == "sample_image":
        from .photo import sample_image
        return sample_image
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Datasets for the course, module by module, with the chapters that use them.

- ``toy``: ``spiral`` (chapters 2, 3, 4 and 8), ``lines_and_squares`` and
  ``train_test_split`` (chapter 7), made on the fly;
- ``photo``: ``sample_image``, a photograph to try filters on (chapters 5 and 6);
- ``mnist``: ``load_mnist`` (chapters 8, 10, 11 and 12), which finds, downloads
  and checks the four MNIST files;
- ``idx``: ``read_idx``, the reader of MNIST's file format (chapter 10);
- ``_download`` (private): mirrors, SHA-256 checks, atomic writes;
- ``__main__``: ``python -m cnnedu.datasets verify|download [--root DIR]``.

Nothing here imports the model or training code.
"""

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

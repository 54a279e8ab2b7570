"""A real photograph to try filters and convolutions on, with no network needed.

Used by chapters 5 and 6 (edge filters, pooling) and the book's landing page.
"""
import numpy as np

# ITU-R BT.601 luma weights for R, G, B; they sum to 1, so gray stays in [0, 1].
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def sample_image(gray=False):
    """Return a portrait of Grace Hopper as float32 values in [0, 1].

    The photograph is the official U.S. Navy portrait of Rear Admiral Grace
    Hopper (public domain), which matplotlib ships as the sample file
    ``grace_hopper.jpg``: it is read from disk, with no network access.

    Parameters
    ----------
    gray : bool
        If True, convert to luma with the ITU-R 601 weights
        ``0.299 R + 0.587 G + 0.114 B``.

    Returns
    -------
    np.ndarray of float32 in [0, 1]
        ``(600, 512, 3)`` RGB in HWC layout (height, width, channel) if
        ``gray`` is False, else ``(600, 512)``. Note that this is HWC, as images
        are stored; layers want NCHW, e.g. ``img.transpose(2, 0, 1)[None]``
        has shape ``(1, 3, 600, 512)``.

    Raises
    ------
    FileNotFoundError
        Only if matplotlib was installed without its sample data.

    Chapters 5 and 6. Sources: matplotlib's sample data (the photograph);
    Recommendation ITU-R BT.601 (the luma weights).
    """
    # Imported here so that `import cnnedu.datasets` does not pay for matplotlib.
    from matplotlib import cbook, image

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    rgb = image.imread(path).astype(np.float32) / 255  # JPEG gives uint8 (H, W, 3)
    if not gray:
        return rgb
    # Rounding in float32 could step just past 1.0; the clip keeps the promise.
    return np.clip(rgb @ LUMA_WEIGHTS, 0.0, 1.0)

"""Tests for cnnedu.datasets.photo: the sample photograph, read with no network."""
import socket

import numpy as np
import pytest

from cnnedu.datasets import sample_image


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("sample_image must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_colour_image_is_hwc_float32_in_unit_range():
    image = sample_image()
    assert image.shape == (600, 512, 3)
    assert image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert image.std() > 0.1  # a real photo, not a blank array


def test_gray_image_uses_itu_601_luma():
    rgb = sample_image()
    gray = sample_image(gray=True)
    assert gray.shape == (600, 512)
    assert gray.dtype == np.float32
    assert gray.min() >= 0.0 and gray.max() <= 1.0
    expected = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    np.testing.assert_allclose(gray, expected, atol=1e-6)


def test_each_call_returns_a_fresh_array():
    first = sample_image()
    first[:] = 0
    assert sample_image().max() > 0

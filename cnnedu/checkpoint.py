"""Save a model's arrays to one ``.npz`` file and load them back, checked and without pickle.

Chapter 10 saves the trained MNIST network and loads it into a fresh one;
chapters 11 and 12 reuse saved weights, and chapter 12 compares
architectures. ``Sequential.save``, ``load``, ``state`` and ``architecture``
are these functions.

The file is a NumPy ``.npz`` archive: one array per parameter and buffer,
keyed ``"<layer index>.<name>"`` (``"0.W"``, ``"1.running_mean"``, ...), plus
``"__architecture__"``, the JSON list of the layers' ``repr``. It holds
plain numbers only and is read with ``np.load(allow_pickle=False)``, so
loading a file from elsewhere cannot run code (a pickle could). Source:
NumPy's ``savez``/``load``; PyTorch's ``state_dict`` for the idea of
buffers saved beside the parameters.
"""

import json
import os
import tempfile
import zipfile

import numpy as np

_ARCHITECTURE = "__architecture__"


def architecture(model):
    """The list of ``repr(layer)`` strings that ``save`` stores and ``load`` compares.

    Two models with the same list have the same layers with the same
    settings (and so the same parameter shapes). Chapter 12.
    """
    return [repr(layer) for layer in model.layers]


def state(model):
    """Every array ``save`` stores, as a dict keyed ``"<layer index>.<name>"``.

    The values are the model's own arrays (not copies): ``model.params`` and
    the layers' ``buffers``, such as the running mean and variance of batch
    normalisation, which are not learned but change what the model computes.
    Chapter 10.
    """
    buffers = {f"{i}.{k}": v for i, layer in enumerate(model.layers)
               for k, v in getattr(layer, "buffers", {}).items()}
    return {**model.params, **buffers}


def save(model, path):
    """Write the model's parameters, buffers and architecture to ``path`` (an ``.npz`` file).

    The write is atomic: the arrays go to a temporary file in the same folder,
    which then replaces ``path`` in one step (``os.replace``), so an
    interrupted save leaves the old file (or none), never half a file.
    Raises FileNotFoundError if the folder does not exist. Chapter 10.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: the folder {folder} does not exist; create it first")
    arrays = state(model)
    arrays[_ARCHITECTURE] = np.array(json.dumps(architecture(model)))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename, or a crash could keep an empty file
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(model, path):
    """Copy the parameters and buffers saved in ``path`` into ``model``; returns the model.

    The model must have the saved architecture; its arrays are overwritten in
    place (values cast to the model's dtype), so optimisers and other
    references to them see the loaded values. Everything is checked before
    anything is copied, so a failed load leaves the model unchanged.
    Raises FileNotFoundError for a missing file and ValueError for a file
    that is truncated, corrupt or not written by ``save``, or that holds a
    different architecture, other arrays or other shapes. Chapter 10.
    """
    path = os.fspath(path)
    arrays = _read(path)
    if _ARCHITECTURE not in arrays:
        raise ValueError(f"{path} has no architecture record; was it written by "
                         "cnnedu.checkpoint.save (model.save)?")
    try:
        saved = json.loads(str(arrays.pop(_ARCHITECTURE)))
    except ValueError:
        raise ValueError(f"{path}: the architecture record is corrupt") from None
    if saved != architecture(model):
        raise ValueError(f"{path} holds a different architecture:\n  saved: {saved}\n"
                         f"  model: {architecture(model)}")
    targets = state(model)
    if arrays.keys() != targets.keys():
        raise ValueError(f"{path} has arrays {sorted(arrays)}, the model expects {sorted(targets)}")
    for key, target in targets.items():
        if arrays[key].shape != target.shape or arrays[key].dtype.kind != "f":
            raise ValueError(f"{path}: array {key} has shape {arrays[key].shape} and dtype "
                             f"{arrays[key].dtype}; the model expects shape {target.shape}, "
                             "float")
    for key, target in targets.items():
        target[...] = arrays[key]
    return model


def _read(path):
    """All arrays of the ``.npz`` file at path, read in full (so corruption shows here)."""
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not an .npz archive")
        with data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as error:
        raise ValueError(f"cannot read {path}: the file is truncated, corrupt or not a cnnedu "
                         f"model file ({type(error).__name__}: {error})") from None

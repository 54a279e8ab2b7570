"""Progress bars for long cells: live in Jupyter, one clean line on the built page.

``cnnedu.train.fit`` (``model.fit``) draws one bar per epoch with it unless
``progress=False`` (chapter 12 shows them), and the hand-written loops of
chapters 7, 10a and 13 wrap their iterables in ``progress``::

    from cnnedu.progress import progress
    for seed in progress(range(5), desc="seeds"):
        ...

Why not ``tqdm.auto``: in a notebook it draws an ipywidgets bar, and a
notebook executed without a browser (the book's build with myst-nb, nbclient,
``jupyter nbconvert --execute``) stores only the widget's reference. The
static page cannot draw it (an empty box), and the text fallback beside it
still says 0%. Plain tqdm on stderr stores every carriage-return update as
a separate output instead.

So in a Jupyter kernel (JupyterLab, Notebook, VS Code, Colab) the bar is a
line of text that is shown with a ``display_id`` and then replaced in place
(IPython's ``DisplayHandle.update``, the ``update_display_data`` message).
The front end redraws it while the cell runs; an executor that saves the
notebook applies each update to the stored output, so the saved notebook and
the page built from it hold only the final line. Outside a kernel (a
terminal, a script, IPython's terminal shell) it is tqdm's ordinary text
bar on stderr. The formatting (percentage, rate, time left) is tqdm's in
both cases.
"""

import sys
from weakref import WeakSet

from tqdm.std import tqdm as _text_tqdm

__all__ = ["progress", "in_jupyter_kernel"]


def in_jupyter_kernel():
    """True inside a Jupyter kernel (a front end that can redraw an output in place).

    ``progress`` asks it, each time it makes a bar (chapters 7 and 10 to 13)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    # A kernel's shell has a `kernel`; IPython's terminal shell has none.
    return shell is not None and getattr(shell, "kernel", None) is not None


class _NullFile:
    """Where tqdm's own writes go when the bar is drawn through IPython's display."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass


class _JupyterBar(_text_tqdm):
    """tqdm, drawn as one text output that IPython's display updates in place."""

    # Own instance registry and no monitor thread: tqdm's monitor would redraw from
    # another thread, and a display call from there can land in another cell.
    _instances = WeakSet()
    monitor_interval = 0

    def __init__(self, *args, **kwargs):
        self._handle = None
        kwargs["file"] = _NullFile()
        kwargs.setdefault("ascii", False)  # the front end shows Unicode: draw the bar in blocks
        super().__init__(*args, **kwargs)

    def display(self, msg=None, pos=None):
        from IPython.display import display

        data = {"text/plain": self.__str__() if msg is None else msg}
        if self._handle is None:
            self._handle = display(data, raw=True, display_id=True)
        else:
            self._handle.update(data, raw=True)
        return True


def progress(iterable=None, desc=None, total=None, *, unit="it", leave=True,
             disable=False, mininterval=0.5, **kwargs):
    """A tqdm progress bar that suits where it runs (see the module docstring).

    Use it like ``tqdm.tqdm``: iterate over it, or call ``update(n)``,
    ``set_postfix_str(text)`` and ``close()`` (or use it in a ``with``).
    ``desc`` is the label before the bar, ``total`` the number of steps
    (taken from ``len(iterable)`` if omitted), ``unit`` the name of one step
    in the rate ("batch", "run"). With ``leave=True`` the final state stays
    as one line; ``disable=True`` shows nothing. The bar redraws at most every
    ``mininterval`` seconds. Other keyword arguments go to tqdm, which raises
    TqdmKeyError (a KeyError) for one it does not know. Chapters 7 and 10 to 13.
    """
    bar = _JupyterBar if in_jupyter_kernel() else _text_tqdm
    return bar(iterable, desc=desc, total=total, unit=unit, leave=leave, disable=disable,
               mininterval=mininterval, **kwargs)

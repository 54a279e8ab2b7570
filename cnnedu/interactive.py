"""Sliders that redraw a figure, for the explorers in chapters 3, 5 and 6.

``interact_figure(draw, step=IntSlider(...), ...)`` shows the sliders and the
figure that ``draw(step=...)`` makes, and redraws it whenever a slider moves,
like ``ipywidgets.interact``.

Why not ``ipywidgets.interact`` itself? It draws into an ``Output`` widget.
When a notebook is executed without a browser (``jupyter-book build``, nbval,
any nbclient run), nbclient mirrors that widget's state by *sending* a message
on the kernel's shell socket from inside its IOPub handler, while another task
of the same client is waiting on that socket for the cell's reply. Now and
then (about 1 execution in 15 in ``benchmarks/stress_execution.py``) the
client's asyncio poll misses the reply's wake-up and only sees it when the
cell timeout fires: the execution stalls for the whole timeout, then carries
on as if nothing happened. Here the figure is a plain display output updated
through its ``display_id``, so no ``Output`` widget exists and the client
never sends anything during a cell: nothing can stall.

ipywidgets is needed only here, and imported only when this runs (it is in
``requirements.txt``, not a dependency of the package).
"""

import traceback

__all__ = ["interact_figure"]


def interact_figure(draw, **controls):
    """Show sliders and the figure ``draw(**values)`` makes; redraw it when a slider moves.

    Parameters
    ----------
    draw : callable
        Called with one keyword argument per control. It draws with matplotlib
        and calls ``plt.show()`` (anything it displays is shown; the last
        display is kept).
    **controls : ipywidgets widgets or plain values
        A widget with a ``value`` (e.g. ``IntSlider``) becomes a control; a
        plain value or ``ipywidgets.fixed(v)`` is passed unchanged.

    Returns
    -------
    ipywidgets.VBox
        The box of controls (already displayed), e.g. to set a slider from code.

    Raises
    ------
    TypeError
        If ``draw`` is not callable or no control is a widget.
    ImportError
        If ipywidgets or IPython is not installed (``pip install ipywidgets``).

    An error inside ``draw`` while a slider moves is shown in place of the
    figure, with its traceback, instead of disappearing into the kernel's log.
    Used in chapters 3, 5 and 6.
    """
    if not callable(draw):
        raise TypeError(f"interact_figure: draw must be callable, got {type(draw).__name__}")
    try:
        import ipywidgets
        from IPython.display import display
        from IPython.utils.capture import capture_output
    except ImportError as error:
        raise ImportError("interact_figure needs ipywidgets: pip install ipywidgets") from error

    sliders = {name: c for name, c in controls.items() if isinstance(c, ipywidgets.ValueWidget)}
    fixed = {name: c.value if isinstance(c, ipywidgets.fixed) else c
             for name, c in controls.items() if name not in sliders}
    if not sliders:
        raise TypeError("interact_figure: give at least one widget control, e.g. "
                        "size=ipywidgets.IntSlider(value=3, min=1, max=9)")

    def render():
        values = {name: slider.value for name, slider in sliders.items()}
        try:
            with capture_output() as captured:
                draw(**fixed, **values)
        except Exception:  # shown to the learner, not lost in a callback
            return {"text/plain": traceback.format_exc()}
        if captured.outputs:
            return captured.outputs[-1].data
        return {"text/plain": captured.stdout or "(draw displayed nothing)"}

    box = ipywidgets.VBox(list(sliders.values()))
    display(box)
    handle = display(render(), raw=True, display_id=True)

    def redraw(_change):
        handle.update(render(), raw=True)

    for slider in sliders.values():
        slider.observe(redraw, names="value")
    return box

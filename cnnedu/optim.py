"""Optimisers and learning-rate schedules: ``step(params, grads)`` updates ``params`` in place.

Chapter 8 derives and compares the optimisers; chapters 3, 7 and 10 to 13
train with them, chapter 10 compares a buggy Adam with ``Adam``, and
chapters 10 to 12 schedule the learning rate with ``warmup_cosine``.

**Arguments.** ``params`` and ``grads`` are dicts with the same keys
(``model.params`` and ``model.grads`` give ``"0.W"``, ``"0.b"``, ...). Each
parameter is a writeable float32 or float64 array, updated in place and
keeping its dtype; its gradient is a float array of the same shape with no
NaN or inf. ``step`` checks all of them *before* it changes anything, so a
step that raises leaves the parameters and the optimiser as they were.
Hyperparameters are checked when the optimiser is made and again at every
step (a schedule may set ``optimizer.lr`` between steps); they are real
numbers (not bools), stored as Python floats. ``lr = 0`` is allowed, as in
PyTorch: a warm-up may start there.

**State is per parameter**, as in PyTorch: ``optimizer.state[key]`` holds
that parameter's buffers (velocity, moments) and its own step count ``"t"``,
which Adam's bias correction uses. A parameter that joins later (a new
layer) starts at t = 0. The state belongs to the *array*: when
``params[key]`` is not the array the state was made for (a re-created
model, or a parameter of another shape), it starts afresh, so a new model
never inherits an old model's momentum. ``optimizer.t`` counts the calls of
``step``.

**Schedules.** ``lr`` may be a function of the number of steps taken so far,
``t = 0, 1, 2, ...``, such as ``warmup_cosine(...)`` or ``step_decay(...)``:
``step`` then sets ``optimizer.lr = lr(t)`` first.

**Weight decay** adds L2 regularisation, ``g + weight_decay * p``, to weights
(arrays with 2 or more dimensions); biases are not decayed. It equals adding
``0.5 * weight_decay * sum(W**2)`` to the loss.

Sources: CS231n notes, "Neural Networks Part 3" (parameter updates, annealing
the learning rate); ``torch.optim`` (per-parameter state); the papers named
in each class.
"""

import math
from collections.abc import Mapping

import numpy as np

from ._checks import check_finite, int_arg, real

# Allowed values of a hyperparameter: (low, high, is low excluded?); high is always excluded.
_AT_LEAST_0 = (0, math.inf, False)
_IN_0_1 = (0, 1, False)
_ABOVE_0 = (0, math.inf, True)


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype}"
    return type(value).__name__


class Optimizer:
    """Base class: checks the arguments, keeps per-parameter state, applies weight decay.

    ``step(params, grads)`` computes, for each parameter p with gradient g
    (plus ``weight_decay * p`` for weights), the subclass's ``update(p, g,
    state)``, which changes p in place; ``state["t"]`` is p's step count,
    this step included. Subclasses list their hyperparameters and allowed
    ranges in ``ranges``. params, grads: dicts of float32/float64 arrays with
    the same keys and shapes. Raises TypeError/ValueError for a bad
    hyperparameter or bad params/grads, naming them; nothing changes when it
    raises. Chapter 8. Source: the design of ``torch.optim.Optimizer``.
    """

    ranges = {"lr": _AT_LEAST_0, "weight_decay": _AT_LEAST_0}

    def __init__(self, **hyperparameters):
        lr = hyperparameters.get("lr")
        self.schedule = lr if callable(lr) else None
        if self.schedule is not None:
            hyperparameters["lr"] = self.schedule(0)
        for name, value in hyperparameters.items():
            setattr(self, name, value)
        self.check_hyperparameters()
        self.state = {}  # key -> {"param": the array, "shape": its shape, "t": its steps, buffers}
        self.t = 0       # calls of step

    def check_hyperparameters(self):
        """Raise TypeError (not a real number) or ValueError (out of range) if one is bad.

        The message names the optimiser, the argument, the value and the
        allowed interval. Valid values are stored as Python floats, so that a
        NumPy float64 learning rate does not turn float32 arithmetic into float64.
        """
        who = type(self).__name__
        for name, (low, high, low_open) in self.ranges.items():
            setattr(self, name, real(getattr(self, name), name, who, low, high, low_open=low_open))

    def step(self, params, grads):
        """Update every array in ``params`` in place, using ``grads``.

        params: dict of writeable float arrays; grads: dict with the same keys
        of finite float arrays of the same shapes. Raises TypeError for a
        non-dict, a non-array or a non-float array, ValueError for different
        keys, a read-only parameter, a shape mismatch, NaN or inf in a
        gradient, or a bad hyperparameter; the message names the key. Nothing
        changes when it raises. Chapter 8.
        """
        if self.schedule is not None:
            self.lr = self.schedule(self.t)
        self.check_hyperparameters()
        self._check(params, grads)
        self.t += 1
        for key, p in params.items():
            state = self.state.get(key)
            if state is None or state["param"] is not p or state["shape"] != p.shape:
                state = self.state[key] = {"param": p, "shape": p.shape, "t": 0}
            state["t"] += 1
            g = grads[key]
            if self.weight_decay and p.ndim >= 2:
                g = g + self.weight_decay * p
            self.update(p, g, state)

    def _check(self, params, grads):
        who = f"{type(self).__name__}.step"
        for name, value in (("params", params), ("grads", grads)):
            if not isinstance(value, Mapping):
                raise TypeError(f"{who}: {name} must be a dict of arrays (e.g. model.{name}), "
                                f"got {_describe(value)}")
        if params.keys() != grads.keys():
            missing = sorted(params.keys() - grads.keys(), key=repr)
            extra = sorted(grads.keys() - params.keys(), key=repr)
            problems = ([f"grads lacks {missing}"] if missing else []) + (
                [f"grads has extra keys {extra}"] if extra else [])
            raise ValueError(f"{who}: params and grads must have the same keys; "
                             + " and ".join(problems))
        for key, p in params.items():
            g = grads[key]
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise TypeError(f"{who}: params[{key!r}] must be a float array, got {_describe(p)}")
            if not p.flags.writeable:
                raise ValueError(f"{who}: params[{key!r}] is read-only, but step updates it "
                                 "in place")
            if not isinstance(g, np.ndarray) or g.dtype.kind != "f":
                raise TypeError(f"{who}: grads[{key!r}] must be a float array, got {_describe(g)}")
            if g.shape != p.shape:
                raise ValueError(f"{who}: grads[{key!r}] has shape {g.shape}, but params[{key!r}] "
                                 f"has shape {p.shape}; they must match")
            # One NaN would spread through the buffers into every later step, and silently.
            check_finite(g, f"grads[{key!r}]", who,
                         "no parameter was changed (try a smaller learning rate)")

    def update(self, p, g, state):
        """Change parameter p in place from gradient g and its ``state`` dict (chapter 8).

        ``step`` calls it once per parameter, after its checks; a subclass implements it
        (the bare base class raises NotImplementedError)."""
        raise NotImplementedError

    def _buffer(self, state, name, p):
        """``state[name]``, created as zeros like p on first use."""
        if name not in state:
            state[name] = np.zeros_like(p)
        return state[name]

    def __repr__(self):
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.ranges)
        if self.schedule is not None:
            args = args.replace(f"lr={self.lr!r}", f"lr={self.schedule!r}")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent: ``p -= lr * g``.

    lr >= 0 (or a schedule), weight_decay >= 0; no state. params, grads:
    dicts of float32/float64 arrays with the same keys and shapes; p keeps
    its dtype. Raises as ``Optimizer.step``. Chapters 3 and 8. Source:
    Robbins and Monro (1951); CS231n notes, "Neural Networks Part 3".
    """

    def __init__(self, lr=0.01, weight_decay=0.0):
        super().__init__(lr=lr, weight_decay=weight_decay)

    def update(self, p, g, state):
        p -= self.lr * g


class Momentum(Optimizer):
    """SGD with momentum: ``v = momentum * v - lr * g;  p += v``.

    lr >= 0 (or a schedule), momentum in [0, 1) (0 gives SGD), weight_decay
    >= 0; the velocity v starts at 0, with p's shape and dtype.
    params, grads: dicts of float32/float64 arrays with the same keys and
    shapes. Raises as ``Optimizer.step``. Chapter 8. Source: Polyak (1964),
    *Some methods of speeding up the convergence of iteration methods*;
    CS231n notes, "Neural Networks Part 3".
    """

    ranges = {**Optimizer.ranges, "momentum": _IN_0_1}

    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0):
        super().__init__(lr=lr, momentum=momentum, weight_decay=weight_decay)

    def update(self, p, g, state):
        v = self._buffer(state, "v", p)
        v *= self.momentum
        v -= self.lr * g
        p += v


class Nesterov(Optimizer):
    """Nesterov momentum, in the form that updates p itself (no look-ahead copy).

    ``v_prev = v;  v = momentum * v - lr * g;  p += -momentum * v_prev + (1 + momentum) * v``.
    lr >= 0 (or a schedule), momentum in [0, 1), weight_decay >= 0; v starts
    at 0, with p's shape and dtype. params, grads: dicts of float32/float64
    arrays with the same keys and shapes. Raises as ``Optimizer.step``.
    Chapter 8. Source: Sutskever, Martens, Dahl and Hinton (2013), *On the
    importance of initialization and momentum in deep learning*; this form
    from the CS231n notes, "Neural Networks Part 3".
    """

    ranges = {**Optimizer.ranges, "momentum": _IN_0_1}

    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0):
        super().__init__(lr=lr, momentum=momentum, weight_decay=weight_decay)

    def update(self, p, g, state):
        mu = self.momentum
        v = self._buffer(state, "v", p)
        v_prev = v.copy()
        v *= mu
        v -= self.lr * g
        p += -mu * v_prev + (1 + mu) * v


class RMSprop(Optimizer):
    """RMSprop: divide each step by a running root mean square of the gradient.

    ``s = decay_rate * s + (1 - decay_rate) * g**2;  p -= lr * g / (sqrt(s) + eps)``.
    lr >= 0 (or a schedule), decay_rate in [0, 1), eps > 0, weight_decay >= 0;
    s starts at 0, with p's shape and dtype. ``decay_rate`` is CS231n's name
    and the only one accepted; chapter 8's table writes it rho, as Keras
    does, and PyTorch calls it alpha. params, grads: dicts of float32/float64
    arrays with the same keys and shapes. Raises as ``Optimizer.step``.
    Chapter 8. Source: Tieleman and Hinton (2012), *Neural Networks for
    Machine Learning*, lecture 6e; CS231n notes, "Neural Networks Part 3".
    """

    ranges = {**Optimizer.ranges, "decay_rate": _IN_0_1, "eps": _ABOVE_0}

    def __init__(self, lr=0.001, decay_rate=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(lr=lr, decay_rate=decay_rate, eps=eps, weight_decay=weight_decay)

    def update(self, p, g, state):
        s = self._buffer(state, "s", p)
        s *= self.decay_rate
        s += (1 - self.decay_rate) * g * g
        p -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    """Adam: momentum on g and RMSprop's scaling, both bias-corrected.

    ``m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g**2;
    p -= lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)``,
    where t is *this parameter's* step count (``state[key]["t"]``), as in
    PyTorch: a parameter's first step moves it by about lr * sign(g), however
    many steps the others have taken. lr >= 0 (or a schedule), beta1 and
    beta2 in [0, 1), eps > 0, weight_decay >= 0 (added to g: L2, not AdamW);
    m and v start at 0, with p's shape and dtype. params, grads: dicts of
    float32/float64 arrays with the same keys and shapes. Raises as
    ``Optimizer.step``. Chapters 8 and 10 to 13. Source: Kingma and Ba
    (2015), *Adam: A method for stochastic optimization*, Algorithm 1.
    """

    ranges = {**Optimizer.ranges, "beta1": _IN_0_1, "beta2": _IN_0_1, "eps": _ABOVE_0}

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)

    def update(self, p, g, state):
        m = self._buffer(state, "m", p)
        v = self._buffer(state, "v", p)
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        m_hat = m / (1 - self.beta1 ** state["t"])
        v_hat = v / (1 - self.beta2 ** state["t"])
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


# -- learning-rate schedules: functions of the step t = 0, 1, 2, ... (pass one as lr) ---------

class warmup_cosine:
    """Linear warm-up to ``peak_lr``, then a half cosine down to 0 at ``total_steps``.

    ``schedule(t)`` for the 0-based step t: ``peak_lr * (t + 1) / warmup`` while
    ``t < warmup``, then ``peak_lr / 2 * (1 + cos(pi * (t - warmup) / (total_steps -
    warmup)))``, where ``warmup = max(1, round(warmup_fraction * total_steps))``.
    Steps past the end give 0. peak_lr finite and >= 0, total_steps an int >= 2,
    warmup_fraction in [0, 1); TypeError/ValueError otherwise. Chapters 10 to 12
    and the benchmarks. Sources: Goyal et al. (2017), *Accurate, large minibatch
    SGD* (warm-up); Loshchilov and Hutter (2017), *SGDR* (cosine).
    """

    def __init__(self, peak_lr, total_steps, warmup_fraction=0.03):
        who = "warmup_cosine"
        self.peak_lr = real(peak_lr, "peak_lr", who, 0)
        self.total_steps = int_arg(total_steps, "total_steps", who, 2)
        self.warmup_fraction = real(warmup_fraction, "warmup_fraction", who, 0, 1,
                                    hint=" (the cosine needs steps)")
        self.warmup = min(max(1, round(self.warmup_fraction * self.total_steps)),
                          self.total_steps - 1)

    def __call__(self, t):
        if t < self.warmup:
            return self.peak_lr * (t + 1) / self.warmup
        progress = min(1.0, (t - self.warmup) / (self.total_steps - self.warmup))
        return self.peak_lr * 0.5 * (1 + math.cos(math.pi * progress))

    def __repr__(self):
        return (f"warmup_cosine({self.peak_lr}, {self.total_steps}, "
                f"warmup_fraction={self.warmup_fraction})")


class step_decay:
    """``lr * gamma ** (t // step_size)``: the rate is cut by ``gamma`` every ``step_size`` steps.

    lr finite and >= 0, step_size an int >= 1, gamma in [0, 1]; TypeError/ValueError
    otherwise. The classic alternative to chapter 11's warm-up + cosine; no chapter
    uses it yet. Source: CS231n notes, "Neural Networks Part 3", annealing the
    learning rate; PyTorch's ``StepLR``.
    """

    def __init__(self, lr, step_size, gamma=0.1):
        who = "step_decay"
        self.lr = real(lr, "lr", who, 0)
        self.step_size = int_arg(step_size, "step_size", who, 1)
        self.gamma = real(gamma, "gamma", who, 0, 1, high_closed=True)

    def __call__(self, t):
        return self.lr * self.gamma ** (t // self.step_size)

    def __repr__(self):
        return f"step_decay({self.lr}, {self.step_size}, gamma={self.gamma})"

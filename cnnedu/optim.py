"""Optimisers. ``step(params, grads)`` updates every array in ``params`` in place.

``params`` and ``grads`` are dicts with the same keys (``Sequential.params``
gives ``"0.W"``, ``"0.b"``, ...). State such as velocities is kept per key.

``weight_decay`` adds L2 regularisation: ``grad + weight_decay * param`` for
weights (arrays with 2 or more dimensions); biases are not decayed.

The update rules follow the CS231n notes:

* SGD:       p -= lr * g
* Momentum:  v = mu * v - lr * g;  p += v
* Nesterov:  v_prev = v;  v = mu * v - lr * g;  p += -mu * v_prev + (1 + mu) * v
* RMSprop:   s = rho * s + (1 - rho) * g**2;  p -= lr * g / (sqrt(s) + eps)
* Adam:      m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g**2
             p -= lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - b1**t),
             v_hat = v / (1 - b2**t) (bias correction)
"""

import numpy as np


class Optimizer:
    def __init__(self, lr, weight_decay=0.0):
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be > 0, got {lr}")
        self.lr = lr
        self.weight_decay = weight_decay
        self.state = {}  # key -> dict of arrays
        self.t = 0       # number of steps taken

    def step(self, params, grads):
        if params.keys() != grads.keys():
            raise ValueError(f"{type(self).__name__}.step: params and grads have different "
                             f"keys: {sorted(params)} vs {sorted(grads)}")
        self.t += 1
        for key, p in params.items():
            g = grads[key]
            if self.weight_decay and p.ndim >= 2:
                g = g + self.weight_decay * p
            self.update(p, g, self.state.setdefault(key, {}))

    def update(self, p, g, state):
        raise NotImplementedError

    def _buffer(self, state, name, p):
        if name not in state:
            state[name] = np.zeros_like(p)
        return state[name]


class SGD(Optimizer):
    def __init__(self, lr=0.01, weight_decay=0.0):
        super().__init__(lr, weight_decay)

    def update(self, p, g, state):
        p -= self.lr * g


class Momentum(Optimizer):
    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.momentum = momentum

    def update(self, p, g, state):
        v = self._buffer(state, "v", p)
        v *= self.momentum
        v -= self.lr * g
        p += v


class Nesterov(Optimizer):
    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.momentum = momentum

    def update(self, p, g, state):
        mu = self.momentum
        v = self._buffer(state, "v", p)
        v_prev = v.copy()
        v *= mu
        v -= self.lr * g
        p += -mu * v_prev + (1 + mu) * v


class RMSprop(Optimizer):
    def __init__(self, lr=0.001, decay_rate=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.decay_rate, self.eps = decay_rate, eps

    def update(self, p, g, state):
        s = self._buffer(state, "s", p)
        s *= self.decay_rate
        s += (1 - self.decay_rate) * g * g
        p -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def update(self, p, g, state):
        m = self._buffer(state, "m", p)
        v = self._buffer(state, "v", p)
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        m_hat = m / (1 - self.beta1 ** self.t)
        v_hat = v / (1 - self.beta2 ** self.t)
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

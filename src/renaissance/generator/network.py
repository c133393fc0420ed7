"""The generator network as a pure function of one flat parameter vector.

NES perturbs every weight, so the parameters live in one float32 vector ``theta`` (P,) and a
population of children is a (C, P) matrix; :func:`forward` runs all children at once with
batched matrix products. Layout of ``theta``: for each dense layer its weight (n_in, n_out)
then its bias (n_out,), and last the per-output offset (n_out,).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .settings import GeneratorSettings


@dataclass(frozen=True)
class Layout:
    """Shapes of the dense layers; ``size`` is P, the length of ``theta``."""

    widths: tuple[int, ...]  # latent_dim, hidden..., n_out

    @property
    def n_out(self) -> int:
        return self.widths[-1]

    @property
    def slices(self) -> list[tuple[slice, slice]]:
        """(weight slice, bias slice) of each dense layer in ``theta``."""
        out, start = [], 0
        for n_in, n_out in zip(self.widths[:-1], self.widths[1:]):
            out.append((slice(start, start + n_in * n_out), slice(start + n_in * n_out, start + (n_in + 1) * n_out)))
            start += (n_in + 1) * n_out
        return out

    @property
    def offset(self) -> slice:
        end = self.size
        return slice(end - self.n_out, end)

    @property
    def size(self) -> int:
        return sum((a + 1) * b for a, b in zip(self.widths[:-1], self.widths[1:])) + self.n_out


def network_layout(settings: GeneratorSettings, n_out: int) -> Layout:
    return Layout((settings.latent_dim, *settings.hidden, n_out))


def init_parameters(layout: Layout, rng: torch.Generator) -> torch.Tensor:
    """Initial ``theta`` (P,) float32: Glorot-uniform weights (bound sqrt(6 / (n_in + n_out)),
    the Keras default of the reference), zero biases and offsets."""
    theta = torch.zeros(layout.size, dtype=torch.float32)
    for (w, _), n_in, n_out in zip(layout.slices, layout.widths[:-1], layout.widths[1:]):
        bound = math.sqrt(6.0 / (n_in + n_out))
        theta[w] = (torch.rand(w.stop - w.start, generator=rng) * 2 - 1) * bound
    return theta


def forward(theta: torch.Tensor, z: torch.Tensor, layout: Layout, settings: GeneratorSettings,
            dropout_rng: torch.Generator | None = None) -> torch.Tensor:
    """Pre-activations of the output layer, offsets included.

    Parameters
    ----------
    theta : (C, P) float32       one parameter vector per child
    z : (C, M, latent_dim)       latent noise
    dropout_rng : torch.Generator, optional
        Given (training), dropout with probability ``settings.dropout`` after each hidden layer;
        None (generation, evaluation): no dropout.

    Returns
    -------
    (C, M, n_out) float32
    """
    dtype = getattr(torch, settings.dtype)
    C = theta.shape[0]
    h = z.to(dtype)
    keep = 1.0 - settings.dropout
    n_layers = len(layout.slices)
    for i, ((w, b), n_in, n_out) in enumerate(zip(layout.slices, layout.widths[:-1], layout.widths[1:])):
        W = theta[:, w].reshape(C, n_in, n_out).to(dtype)
        bias = theta[:, b].reshape(C, 1, n_out).to(dtype)
        h = torch.baddbmm(bias, h, W)
        if i < n_layers - 1:
            h = torch.tanh_(h)
            if dropout_rng is not None and settings.dropout > 0:
                mask = torch.rand(h.shape, generator=dropout_rng, device=h.device) < keep
                h = h * mask.to(dtype) / keep
    return h.float() + settings.offset_gain * theta[:, layout.offset].reshape(C, 1, -1)


def to_ln_km(a: torch.Tensor, settings: GeneratorSettings, kinds=None) -> torch.Tensor:
    """Map pre-activations (C, M, n_out) to ln(K / (mol/L)) within the bounds of each output's
    kind (``kinds``: n_out of ``km``/``ki``/``ka``, see ``GeneratorSettings.output_bounds``;
    None: every output is a Km).

    The squashing runs in float32 (the network's precision); the affine map to the bounds in
    float64, which is the returned type.

    ``tanh``: lo + (hi - lo) * (1 + tanh(a)) / 2, element-wise, so each model's Km depend only
    on its own latent draw. ``batch_minmax`` (reference code): y = tanh(a) rescaled by the
    min and max of y over each child's whole (M, n_out) batch, so a model's Km depend on the
    rest of its batch.
    """
    if kinds is None or all(kind == "km" for kind in kinds):
        low, high = settings.ln_km_bounds
    else:
        low, high = (torch.as_tensor(b, device=a.device) for b in settings.output_bounds(kinds))
    unit = torch.tanh(a)
    if settings.mapping == "tanh":
        unit.add_(1.0).mul_(0.5)
    else:
        flat = unit.reshape(unit.shape[0], -1)
        lo = flat.amin(dim=1).reshape(-1, 1, 1)
        span = (flat.amax(dim=1).reshape(-1, 1, 1) - lo).clamp_min(1e-30)
        unit = (unit - lo) / span
    return unit.double().mul_(high - low).add_(low).clamp_(low, high)

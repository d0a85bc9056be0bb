"""Phase-change memory (PCM) device: one-sided gradual SET, no gradual RESET.

A PCM cell's conductance rises in gradual steps under SET pulses (crystallisation), the steps shrinking as the
cell approaches its highest conductance; it can only be lowered by an abrupt RESET (melt-quench) to the
lowest state (Nandakumar et al., J. Appl. Phys. 124, 152135 (2018); Burr et al., IEEE TED 62(11) 2015: the
"occasional RESET" of a differential pair). In the centred units of :mod:`pimtrain.devices.base`
(``u = c + 0.5`` the fraction of the range, ``α = nonlinearity``, ``ud = up_down``):

- SET (r > 0): ``Δc = r (1 + ud) max(1 − α u, 0) / (1 − α/2)`` (the soft-bounds up branch; mid-range moves by r);
- r ≤ 0: no change (and no write noise): a gradual decrease is impossible.

On a differential pair (``array.weight_mapping: differential``) a weight increase SETs G+ and a decrease SETs G−
(the core splits every change into +r/2 on G+ and −r/2 on G−; the negative half is not applied), so both devices
climb with use until the pair saturates; the refresh that RESETs both and reprograms the difference is not
modelled yet. Drift after programming: :mod:`pimtrain.devices.drift`.
"""
from __future__ import annotations

import math

from .base import DeviceModel, Request


class PcmDevice(DeviceModel):
    name = "pcm"

    def mean_step(self, c, req: Request, rows):
        alpha = float(self.spec.nonlinearity)
        ud = float(self.spec.up_down)
        up = req.r.clamp(min=0.0)
        norm = 1.0 - alpha / 2.0 if alpha < 2.0 else 1.0
        factor = (c + 0.5).mul(-alpha).add_(1.0).clamp_(min=0.0)
        return factor.mul_(up).mul_((1.0 + ud) / norm)

    def noise_step(self, delta, c, req: Request, rows) -> None:
        """Write noise only on the cells SET (random walk in the SET request)."""
        if self.write_noise > 0:
            z = self.noise.normal(delta.shape)
            delta.addcmul_(req.r.clamp(min=0.0).sqrt(), z, value=self.write_noise * math.sqrt(self.dw_min))

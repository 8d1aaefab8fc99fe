"""Landsat 7 ETM+ digital numbers to top-of-atmosphere reflectance, with the published calibration.

Why this and not the Collection 2 scale (0.0000275, -0.2): the shipped scene (``L7_ETMs.tif`` from
R's stars package) is 8-bit Level-1 ETM+ digital numbers at 28.5 m (the orthorectified "GeoCover"
product), not 16-bit Level-2 surface reflectance, so the Level-1 rescaling applies:

    L   = (LMAX - LMIN) / (QCALMAX - QCALMIN) * (DN - QCALMIN) + LMIN     radiance, W / (m^2 sr um)
    rho = pi * L * d^2 / (ESUN * cos(theta_s))                             TOA reflectance, unitless

with LMIN / LMAX per band and gain state from Chander, Markham & Helder (2009), *Summary of current
radiometric calibration coefficients for Landsat MSS, TM, ETM+, and EO-1 ALI sensors*, Remote
Sensing of Environment 113, 893-903, Table 1 (ETM+, products processed after 1 July 2000), and the
solar irradiances ESUN from its Table 11. The file carries no MTL metadata, so three facts of the
acquisition are not recorded and are *assumptions*, named here once: the gain state (the usual land
setting: bands 1-3, 5 and 7 high gain, band 4 low gain), the sun elevation and the Earth-Sun
distance. Every normalised-difference index is independent of the last two (pi * d^2 / cos(theta_s)
is the same factor in every band and cancels), so only absolute reflectances depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QCALMIN, QCALMAX = 1, 255
FILL_DN = 0  # Level-1 fill: no data

# (LMIN, LMAX) in W / (m^2 sr um) for the file's bands 1, 2, 3, 4, 5, 7 (Chander et al. 2009, Table 1).
HIGH_GAIN = ((-6.2, 191.6), (-6.4, 196.5), (-5.0, 152.9), (-5.1, 157.4), (-1.0, 31.06), (-0.35, 10.80))
LOW_GAIN = ((-6.2, 293.7), (-6.4, 300.9), (-5.0, 234.4), (-5.1, 241.1), (-1.0, 47.57), (-0.35, 16.54))
# Mean exo-atmospheric solar irradiance, W / (m^2 um), same bands (Chander et al. 2009, Table 11).
ESUN = (1997.0, 1812.0, 1533.0, 1039.0, 230.8, 84.90)


@dataclass(frozen=True)
class Calibration:
    """One scene's rescaling: (LMIN, LMAX) and ESUN per stored band, sun elevation, Earth-Sun distance."""

    ranges: tuple[tuple[float, float], ...]
    esun: tuple[float, ...]
    sun_elevation_deg: float
    earth_sun_au: float

    @property
    def gains(self) -> np.ndarray:
        """Radiance per DN step for each band: (LMAX - LMIN) / (QCALMAX - QCALMIN)."""
        return np.array([(hi - lo) / (QCALMAX - QCALMIN) for lo, hi in self.ranges])

    @property
    def offsets(self) -> np.ndarray:
        """Radiance at DN = QCALMIN for each band: LMIN."""
        return np.array([lo for lo, _ in self.ranges])

    @property
    def reflectance_factor(self) -> np.ndarray:
        """pi * d^2 / (ESUN * cos(theta_s)) per band: radiance to reflectance."""
        cos_zenith = np.cos(np.radians(90.0 - self.sun_elevation_deg))
        return np.pi * self.earth_sun_au ** 2 / (np.array(self.esun) * cos_zenith)


# The shipped scene: gain state HHHLHH (bands 1, 2, 3, 4, 5, 7), sun elevation 55 degrees and 1 AU are
# assumptions (no MTL shipped); see the module docstring and data/PROVENANCE.md.
OLINDA_ETM = Calibration(ranges=HIGH_GAIN[:3] + LOW_GAIN[3:4] + HIGH_GAIN[4:], esun=ESUN,
                         sun_elevation_deg=55.0, earth_sun_au=1.0)


def toa_reflectance(dn: np.ndarray, cal: Calibration = OLINDA_ETM) -> np.ndarray:
    """(bands, ...) digital numbers -> float32 TOA reflectance; NaN where DN is the fill value 0."""
    dn = np.asarray(dn)
    shape = (-1,) + (1,) * (dn.ndim - 1)
    scale = (cal.gains * cal.reflectance_factor).astype(np.float32).reshape(shape)
    shift = ((cal.offsets - cal.gains * QCALMIN) * cal.reflectance_factor).astype(np.float32).reshape(shape)
    out = dn.astype(np.float32) * scale + shift  # float32 throughout: a tile's working set stays small
    out[dn == FILL_DN] = np.nan
    return out

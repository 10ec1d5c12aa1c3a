"""The named landscapes (smoke, bundled): grids over a few domains whose proxies are the named
studies' (`study.config.SCALES`), so a landscape and a study of one scale train the same models."""

from __future__ import annotations

from dataclasses import replace

from autoscale_kit.core.errors import UserError
from autoscale_kit.landscape.design import LandscapeConfig
from autoscale_kit.proxy.config import wsd_config
from autoscale_kit.study.config import SCALES


def _named() -> dict[str, LandscapeConfig]:
    return {
        # the tests' size: the smoke study's proxy, a 0.5 grid, 4× between budgets
        "smoke": LandscapeConfig(name="smoke", domains=("code", "books", "wikipedia"),
                                 budgets=(30_000, 60_000, 120_000), step=0.5, seeds=(0, 1),
                                 proxy=SCALES["smoke"].proxy),
        # the shipped landscape (data/landscape/bundled): the small study's proxy, loss curves on
        # 16k tokens per domain (the final losses on 64k), 16× between the smallest and largest
        # budget; one code domain and two prose domains that overlap (books, wikipedia). About 45
        # minutes on 2 cores.
        "bundled": LandscapeConfig(name="bundled", domains=("code", "books", "wikipedia"),
                                   budgets=(125_000, 500_000, 2_000_000), step=1 / 3, seeds=(0, 1),
                                   proxy=SCALES["small"].proxy.with_(curve_val_tokens=16_384), workers=2),
        # the same grid, proxy and seeds at five budgets 2× apart on the wsd schedule (warm-up of
        # 6,250 tokens, 1-sqrt cooldown over the last 20 %): one trunk per point and seed to 2M,
        # the four smaller budgets branched off it (data/landscape/bundled-wsd)
        "bundled-wsd": LandscapeConfig(name="bundled-wsd", domains=("code", "books", "wikipedia"),
                                       budgets=(125_000, 250_000, 500_000, 1_000_000, 2_000_000), step=1 / 3,
                                       seeds=(0, 1), proxy=wsd_config(SCALES["small"].proxy.with_(
                                           curve_val_tokens=16_384), 125_000, 0.2), workers=2),
    }


def landscape_config(name: str = "bundled", **overrides) -> LandscapeConfig:
    """A named landscape (smoke, bundled, bundled-wsd), with fields replaced by `overrides`."""
    named = _named()
    if name not in named:
        raise UserError(f"unknown landscape {name!r}; choose one of {', '.join(named)}")
    return replace(named[name], **overrides)

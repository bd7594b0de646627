"""Resellers and resale customers of the synthetic partner."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import polars as pl

from .ids import hex_ids

# Always present, first, so tests and demos can rely on them: CSV quoting and non-ASCII text.
SPECIAL_CUSTOMER_NAMES: tuple[str, ...] = (
    "Acme, Inc.",
    '"Blue" Ocean Ltd',
    "O'Brien Digital Ltd",
    "深圳市云端科技有限公司",
)

_EN_STEMS = (
    "Nordic", "Pacific", "Andes", "Savanna", "Jade", "Lotus", "Harbor", "Summit", "Orchid", "Atlas",
    "Coral", "Phoenix", "Monsoon", "Sierra", "Kestrel", "Mekong", "Table Bay", "Patagonia", "Bosphorus",
    "Riverstone", "Silverline", "Greenfield", "Brightpath", "Northwind", "Sunrise", "Golden Gate",
)
_EN_TRADES = (
    "Logistics", "Retail", "Games", "Media", "Fintech", "Health", "Foods", "Studio", "Analytics",
    "Travel", "Education", "Energy", "Mobility", "Insurance", "Software",
)
_EN_FORMS = ("Ltd", "Pte. Ltd.", "S.A.", "S.A. de C.V.", "(Pty) Ltd", "Ltda.", "Co., Ltd.", "LLC", "A.Ş.")
_ZH_CITIES = ("深圳", "广州", "杭州", "上海", "北京", "成都", "香港")
_ZH_WORDS = ("星河", "蓝海", "数智", "天枢", "云帆", "华讯", "锦程", "博远")
_ZH_TRADES = ("科技", "网络科技", "信息技术", "电子商务", "文化传媒")
_OTHER_SCRIPT_NAMES = (
    "บริษัท ไทยคลาวด์ จำกัด",
    "Soluciones Digitales del Pacífico S.A. de C.V.",
    "Comercializadora Andina S.A.",
    "Müller & Söhne Handels GmbH",
    "PT Nusantara Data Prima",
)
_RESELLER_NAMES = (
    "Andes Cloud Partners S.A.",
    "Kite Digital Solutions Pte. Ltd.",
    "华南云服务有限公司",
    "Savanna Tech Resellers (Pty) Ltd",
    "Bosphorus Bilişim A.Ş.",
)


def _company_names(rng: np.random.Generator, count: int) -> list[str]:
    """Distinct company names: the special ones first, then a mix of English, Chinese and other scripts."""
    names = list(SPECIAL_CUSTOMER_NAMES[:count])
    seen = set(names)
    while len(names) < count:
        roll = rng.random()
        if roll < 0.25:
            name = (f"{_ZH_CITIES[rng.integers(len(_ZH_CITIES))]}市{_ZH_WORDS[rng.integers(len(_ZH_WORDS))]}"
                    f"{_ZH_TRADES[rng.integers(len(_ZH_TRADES))]}有限公司")
        elif roll < 0.30:
            name = _OTHER_SCRIPT_NAMES[rng.integers(len(_OTHER_SCRIPT_NAMES))]
        else:
            name = (f"{_EN_STEMS[rng.integers(len(_EN_STEMS))]} {_EN_TRADES[rng.integers(len(_EN_TRADES))]} "
                    f"{_EN_FORMS[rng.integers(len(_EN_FORMS))]}")
        if name in seen:  # a second company of the same name gets a branch number
            name = f"{name} ({len(names)})"
        seen.add(name)
        names.append(name)
    return names


def _account_name(company: str, serial: int) -> str:
    """A login-style account name: ASCII slug of the company plus a serial number."""
    slug = re.sub(r"[^a-z0-9]+", "_", company.lower()).strip("_")[:14].strip("_")
    return f"{slug or 'hwc'}_{serial:03d}"


def make_resellers(rng: np.random.Generator, count: int) -> pl.DataFrame:
    """Resellers (indirect partners, tier-2) of the distributor."""
    names = [_RESELLER_NAMES[i % len(_RESELLER_NAMES)] + (f" {i // len(_RESELLER_NAMES) + 1}"
                                                         if i >= len(_RESELLER_NAMES) else "")
             for i in range(count)]
    return pl.DataFrame({
        "reseller_id": hex_ids(rng, count),
        "reseller_name": pl.Series(names, dtype=pl.String),
        "account_name": pl.Series([_account_name(name, 100 + i) for i, name in enumerate(names)],
                                  dtype=pl.String),
    })


def make_customers(
    rng: np.random.Generator,
    count: int,
    partner_id: str,
    partner_name: str,
    resellers: pl.DataFrame,
    first_month_start: dt.date,
    region_weight: np.ndarray,
    region_codes: list[str],
) -> pl.DataFrame:
    """Resale customers; about 45 % belong to a reseller when the partner has resellers."""
    names = _company_names(rng, count)
    customer_ids = hex_ids(rng, count)
    if resellers.height:
        # Customer 0 stays with the distributor and customer 1 goes to a reseller, so both kinds exist.
        under_reseller = rng.random(count) < 0.45
        under_reseller[:2] = [False, True][: min(2, count)]
        reseller_index = rng.integers(0, resellers.height, size=count)
    else:
        under_reseller = np.zeros(count, dtype=bool)
        reseller_index = np.zeros(count, dtype=np.int64)
    reseller_ids = resellers["reseller_id"].to_list() if resellers.height else [None]
    reseller_names = resellers["reseller_name"].to_list() if resellers.height else [None]
    indirect = [reseller_ids[r] if under else None for under, r in zip(under_reseller, reseller_index)]
    owner_name = [reseller_names[r] if under else partner_name for under, r in zip(under_reseller, reseller_index)]
    # Heavy-tailed spend: a few large customers, many small ones.
    spend_weight = rng.lognormal(mean=0.0, sigma=1.1, size=count)
    associated_days_before = rng.integers(30, 900, size=count)
    return pl.DataFrame({
        "customer_id": customer_ids,
        "customer_name": pl.Series(names, dtype=pl.String),
        "account_name": pl.Series([_account_name(name, i + 1) for i, name in enumerate(names)], dtype=pl.String),
        "partner_id": pl.Series([rid or partner_id for rid in indirect], dtype=pl.String),
        "partner_name": pl.Series(owner_name, dtype=pl.String),
        "association_type": pl.Series(["resale"] * count, dtype=pl.String),
        "indirect_partner_id": pl.Series(indirect, dtype=pl.String),
        "associated_on": pl.Series([first_month_start - dt.timedelta(days=int(d)) for d in associated_days_before],
                                   dtype=pl.Date),
        "home_region_code": pl.Series(
            [region_codes[i] for i in rng.choice(len(region_codes), size=count, p=region_weight)], dtype=pl.String),
        "payment_method": pl.Series(np.where(rng.random(count) < 0.8, "credit", "cash"), dtype=pl.String),
        "spend_weight": spend_weight,
    })

r"""Units after a number: which ones convert, and by what factor.

A number with a different unit is wrong unless it converts: `500 cm` = `5 m`, but `5 cm` ≠
`5 m` and `3 m` ≠ `3 km`. A unit is read from the text after the number (`cm`, `\text{ km}`
once cleaned, `cm^2`, `square meters`, `minutes`) into (dimension, factor to the base unit)
with exact fractions. A unit this table does not know (`apples`, `units`) compares by its
spelling; a unit on one side only is accepted (the gold or the answer left it implicit).
"""

from __future__ import annotations

import re
from fractions import Fraction

# name → (dimension, factor to the base unit of that dimension)
_LENGTH = {"mm": Fraction(1, 1000), "cm": Fraction(1, 100), "dm": Fraction(1, 10), "m": Fraction(1),
           "km": Fraction(1000), "in": Fraction(254, 10000), "inch": Fraction(254, 10000),
           "ft": Fraction(3048, 10000), "foot": Fraction(3048, 10000),
           "yd": Fraction(9144, 10000), "yard": Fraction(9144, 10000),
           "mi": Fraction(1609344, 1000), "mile": Fraction(1609344, 1000),
           "millimeter": Fraction(1, 1000), "centimeter": Fraction(1, 100),
           "meter": Fraction(1), "kilometer": Fraction(1000)}
_MASS = {"mg": Fraction(1, 1000), "g": Fraction(1), "kg": Fraction(1000), "gram": Fraction(1),
         "kilogram": Fraction(1000), "milligram": Fraction(1, 1000), "t": Fraction(10**6),
         "ton": Fraction(10**6), "tonne": Fraction(10**6)}
_TIME = {"ms": Fraction(1, 1000), "s": Fraction(1), "sec": Fraction(1), "second": Fraction(1),
         "min": Fraction(60), "minute": Fraction(60), "h": Fraction(3600), "hr": Fraction(3600),
         "hour": Fraction(3600), "day": Fraction(86400), "week": Fraction(7 * 86400)}
_VOLUME = {"ml": Fraction(1, 1000), "l": Fraction(1), "liter": Fraction(1), "litre": Fraction(1),
           "milliliter": Fraction(1, 1000), "millilitre": Fraction(1, 1000)}
_ANGLE = {"degree": Fraction(1), "deg": Fraction(1)}

_TABLE: dict[str, tuple[str, Fraction]] = {}
for _dim, _units in (("length", _LENGTH), ("mass", _MASS), ("time", _TIME), ("volume", _VOLUME),
                     ("angle", _ANGLE)):
    for _name, _factor in _units.items():
        _TABLE[_name] = (_dim, _factor)
_SPELLINGS = {"metre": "meter", "centimetre": "centimeter", "millimetre": "millimeter",
              "kilometre": "kilometer", "feet": "foot", "inches": "inch", "secs": "sec",
              "mins": "min", "hrs": "hr"}
_POWER_WORDS = {"square": 2, "sq": 2, "cubic": 3, "cu": 3}
_EXPONENT = re.compile(r"^(?P<name>[a-zµ]+)\s*(?:\^\s*\{?\s*(?P<exp>[23])\s*\}?|(?P<sup>[²³]))?$")


# "units" names no unit: `12 square units` is just 12
_GENERIC = {"unit", "units", "squareunits", "squnits", "cubicunits", "units^2", "units^3",
            "unit^2", "unit^3", "u", "u^2", "u^3", "sq.units"}


def is_generic(text: str) -> bool:
    return unit_key(text) in _GENERIC


def unit_key(text: str) -> str:
    """A unit's spelling reduced to compare unknown units: lower case, no spaces or braces."""
    return re.sub(r"[\s{}]+", "", text.lower()).rstrip(".")


def parse_unit(text: str) -> tuple[str, Fraction] | None:
    """(dimension with power, factor to the base unit) for a known unit, else None.

    `cm` → ("length", 1/100); `cm^2` and `square centimeters` → ("length^2", 1/10000);
    `mL` and `cm^3` both have the dimension of volume.
    """
    s = text.strip().lower().rstrip(".")
    if not s:
        return None
    power = 1
    words = s.split()
    if len(words) == 2 and words[0] in _POWER_WORDS:
        power, s = _POWER_WORDS[words[0]], words[1]
    m = _EXPONENT.match(s.replace(" ", ""))
    if not m:
        return None
    name = m.group("name")
    if m.group("exp") or m.group("sup"):
        if power != 1:
            return None
        power = int(m.group("exp") or {"²": 2, "³": 3}[m.group("sup")])
    name = _SPELLINGS.get(name, name)
    if name not in _TABLE and name.endswith("s") and name[:-1] in _TABLE and len(name) > 2:
        name = name[:-1]                                    # plurals: meters, hours, grams
    if name not in _TABLE:
        return None
    dim, factor = _TABLE[name]
    if dim == "length" and power == 3:
        return "volume", factor ** 3 * 1000                  # 1 m^3 = 1000 L
    if power != 1 and dim != "length":
        return None
    return (dim if power == 1 else f"{dim}^{power}"), factor ** power


def units_agree(gold_unit: str, pred_unit: str) -> tuple[bool, Fraction, Fraction]:
    """Whether two units can be compared, and each side's factor to the common base.

    Empty on either side: comparable with factor 1 (the unit was left implicit).
    """
    if not gold_unit or not pred_unit or is_generic(gold_unit) or is_generic(pred_unit):
        return True, Fraction(1), Fraction(1)
    g, p = parse_unit(gold_unit), parse_unit(pred_unit)
    if g is not None and p is not None:
        return g[0] == p[0], g[1], p[1]
    return unit_key(gold_unit) == unit_key(pred_unit), Fraction(1), Fraction(1)

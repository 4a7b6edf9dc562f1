"""Amounts for people: integer minor units shown in their currency's major units.

Events carry money as integer minor units (fen, cents) and the rules compare those;
a message read by a person must not make them divide by a hundred in their head,
nor guess the currency: "50600 overdue" is ``CNY 506.00 overdue``. The ISO 4217 code
comes first, with grouping commas and the currency's own number of decimals, one
format whatever the reader's locale, so a message reads the same in every channel.

>>> format_money(50600, "CNY")
'CNY 506.00'
>>> format_money(-125000050, "USD")
'USD -1,250,000.50'
>>> format_money(1500, "JPY"), format_money(1500, "KWD")
('JPY 1,500', 'KWD 1.500')
"""

from __future__ import annotations

from typing import Final

__all__ = ["format_money", "minor_digits"]

_DIGITS: Final[dict[str, int]] = {
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
            "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4,
    "UYW": 4,
}  # fmt: skip
"""ISO 4217 currencies whose minor unit is not a hundredth; the others have two digits."""


def minor_digits(currency: str) -> int:
    """Decimal digits of ``currency``'s minor unit (2 for CNY: 100 fen to the yuan)."""
    return _DIGITS.get(currency, 2)


def format_money(minor: int, currency: str) -> str:
    """``minor`` units of ``currency`` as ``<code> <amount>``, e.g. ``CNY 1,234.56``."""
    digits = minor_digits(currency)
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(minor), 10**digits)
    text = f"{whole:,}" + (f".{part:0{digits}d}" if digits else "")
    return f"{currency} {sign}{text}"

"""Kubernetes resource quantities (``"500m"``, ``"64Mi"``, ``"1.5"``, ``"2e3"``) as exact numbers.

Only what a pod template's ``resources`` hold is needed: the decimal and binary suffixes and
exponents of ``resource.Quantity``. A value that is not a quantity raises
:class:`~sidecar.core.errors.MalformedObjectError` naming the field.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

from sidecar.core.errors import MalformedObjectError

_SUFFIXES: Final = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_FORM: Final = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]{0,2})$")
GIB: Final = Decimal(2) ** 30


def parse(value: object, where: str) -> Decimal:
    """The quantity ``value`` (a string or a number, as JSON holds it) as a number of units."""
    text = str(value).strip()
    found = _FORM.match(text)
    if found is None or found.group(2) not in _SUFFIXES:
        raise MalformedObjectError(where, f"not a quantity: {text!r}")
    number, suffix = found.groups()
    try:
        return Decimal(number) * _SUFFIXES[suffix]
    except InvalidOperation as error:
        raise MalformedObjectError(where, f"not a quantity: {text!r}") from error

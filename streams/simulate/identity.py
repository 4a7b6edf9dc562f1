"""Pseudonymous references and keyed hashes of invented contact details.

The simulator must look like a careful producer: borrowers are opaque
``bw-...`` references and a changed phone or address travels only as an
HMAC-SHA256 of the (invented) value, never in clear (docs/events.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from typing import Final

__all__ = ["CONTACT_KEY", "contact_ref", "pseudonym"]

CONTACT_KEY: Final = b"loanwatch-simulator-contact-key-v1"
"""Fixed HMAC key for the simulator's fake contact details and pseudonyms.

Not a secret: every value it hashes is invented. Real producers use their own
secret key (docs/events.md); a fixed one here keeps runs reproducible.
"""

_STREETS: Final = ("Renmin", "Jiefang", "Zhongshan", "Jianshe", "Heping", "Xinhua", "Changjiang")


def pseudonym(seed: int, index: int, what: str) -> str:
    """A stable opaque reference: keyed hash, base32 letters and digits 2-7.

    Base32 has no 0, 1, 8 or 9, so a reference can never look like a phone
    number or an ID number, and the identity guard on ``borrower_id`` never
    trips on simulated data.

    >>> pseudonym(7, 1, "borrower") == pseudonym(7, 1, "borrower") != pseudonym(7, 2, "borrower")
    True
    """
    digest = hmac.new(CONTACT_KEY, f"{seed}:{index}:{what}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()


def contact_ref(rng: random.Random, changed: str) -> str:
    """Invent a new contact value and return only its keyed hash (never the value).

    >>> ref = contact_ref(random.Random(3), "phone")
    >>> ref.startswith("hmac-sha256:"), len(ref)
    (True, 76)
    """
    if changed == "phone":
        value = "1" + rng.choice("3456789") + "".join(rng.choices("0123456789", k=9))
    elif changed == "email":
        value = "user" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=8)) + "@example.cn"
    elif changed == "address":
        value = f"No. {rng.randint(1, 999)} {rng.choice(_STREETS)} Road, Unit {rng.randint(1, 40)}"
    else:
        value = "employer-" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=10))
    digest = hmac.new(CONTACT_KEY, value.encode(), hashlib.sha256).hexdigest()
    return "hmac-sha256:" + digest

"""Masking of residents' personal data for readers who do not need it in full."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """138****5678: enough to tell two calls apart, not enough to call back."""
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    keep_head = 3 if len(digits) >= 11 else 1
    return digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]


def mask_name(name: str) -> str:
    """张** : the family name only."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else name


def mask_address(address: str) -> str:
    """The first few characters (the estate, usually), the rest hidden."""
    keep = min(4, len(address) // 2)
    return address[:keep] + "****" if address else address

"""Transform: map each unit's headers onto the contract's columns (any spelling; the school's
rows of a shared file), normalise raw columns to the contract's codes and types, whole
columns at a time, and set aside (quarantine) every row that cannot be, with its reason."""

from imtetl.transform.normalise import Normalised, normalise

__all__ = ["Normalised", "normalise"]

"""Transform: normalise raw columns to the contract's codes and types, whole columns at a
time, and set aside (quarantine) every row that cannot be, with its reason."""

from imtetl.transform.normalise import Normalised, normalise

__all__ = ["Normalised", "normalise"]

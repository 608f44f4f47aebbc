"""Validate: the file-level checks that decide whether a source unit can load at all
(required columns present under any of their spellings, the school's rows selected)."""

from imtetl.validate.columns import normalise_label, select_columns

__all__ = ["normalise_label", "select_columns"]

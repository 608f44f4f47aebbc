"""The bundled sample landing zone: the eight schools' exports, each in its own format.

`write_sample(out, scale, seed)` writes them (see FORMATS.md for the exact formats).
"""

from imtetl.sample.generate import SampleSummary, generator_version, is_current, write_sample

__all__ = ["SampleSummary", "generator_version", "is_current", "write_sample"]

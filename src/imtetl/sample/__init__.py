"""The bundled sample landing zone: the eight schools' exports, each in its own format.

`write_sample(out, scale, seed)` writes them (see FORMATS.md for the exact formats).
"""

from imtetl.sample.generate import SampleSummary, write_sample

__all__ = ["SampleSummary", "write_sample"]

"""imtetl: the international-recruitment warehouse of Institut Mines-Télécom.

The path of data is the package layout: ``read`` (school exports into raw frames),
``validate`` (file-level checks: required columns), ``transform`` (normalise to the
contract's codes, quarantine what cannot be), ``load`` (staging and SQL models in the build
database), ``publish`` (atomic release of the warehouse that readers open). ``defs`` wires
them into Dagster assets; ``cli`` is the ``imtetl`` command.
"""

__version__ = "0.1.0"

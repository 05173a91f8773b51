"""Experiments: sweeps of a scenario over factors and seeds.

- :mod:`fleetsim.experiments.spec`: the experiment file (factors, levels, design, seeds,
  baseline, metrics), checked in full before any run starts.
- :mod:`fleetsim.experiments.sweep`: runs every configuration x seed into one folder
  (run directories, one row per run, a tidy Parquet/CSV table), resumable, on local worker
  processes or a Dask cluster (``fleetsim sweep``).
"""

from fleetsim.experiments.spec import Experiment, load_experiment
from fleetsim.experiments.sweep import SweepResult, run_sweep

__all__ = ["Experiment", "SweepResult", "load_experiment", "run_sweep"]

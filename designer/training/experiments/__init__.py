"""Experiments that test the FC-layer article's claims: shift probes and FC-head sweeps.

Headless (no Qt); the window runs them in its worker and plots what they return.
"""

from designer.training.experiments.shift import (
    PositionProbeResult,
    ProbeError,
    random_position_probe,
    shift_images,
    shift_probe,
)
from designer.training.experiments.sweep import (
    SweepRun,
    SweepSpec,
    head_variants,
    pareto_front,
    pareto_runs,
    run_sweep,
    runs_to_csv,
)

__all__ = [
    "PositionProbeResult", "ProbeError", "SweepRun", "SweepSpec", "head_variants", "pareto_front",
    "pareto_runs", "random_position_probe", "run_sweep", "runs_to_csv", "shift_images", "shift_probe",
]

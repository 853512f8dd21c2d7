"""The FC lab's engine, headless: the article's claims about FC layers as experiments.

* ``transforms``: FC → convolution (same parameters, same outputs) and the class-score map;
  FC head → GAP.
* ``convert``: the FC → convolution experiment on a design, trained weights carried over.
* ``compare``: train designs side by side (FC head vs GAP head) on the run path.
* ``shift``: "where is the cat?" — accuracy against shifted images, random positions.
* ``shift_augmentation``: the comparison it invites — FC head, FC head trained with shift
  augmentation, GAP head — trained as one queue, probed, with a verdict.
* ``sweep``: depth × width sweeps of the FC head on the run path, Pareto fronts.
* ``neurons``: which FC neurons fire for one image; top predictions.
* ``models``: which trained weights fit which design.

No Qt here (``tests/test_layering.py``); the windows in ``designer.ui.lab`` show what these
return. Every experiment that trains goes through ``designer.training.run``. Submodules
load torch; importing this package does not.
"""

from designer.lab.common import Cancelled

__all__ = ["Cancelled"]

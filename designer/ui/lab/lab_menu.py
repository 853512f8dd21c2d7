"""The "FC lab" menu: the FC-layer article's claims as one-click experiments on the open design.

``install_lab(window, training_panel)`` adds the menu; each item opens (or raises) one
non-modal dialog that does its work in the background: training goes to the training
process (``designer.ui.training_run``), probes run in a worker thread. Dialog modules, and
with them torch, load on first use, so installing the menu costs nothing at start-up.
"""

from __future__ import annotations

from importlib import import_module

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction

from designer.ui.lab.models import LabModels

#: (name, menu text, module, dialog class, what it tells)
FEATURES = (
    ("fc_to_conv", "FC → &Convolution (score map)", "designer.ui.lab.fc_to_conv_dialog", "FcToConvDialog",
     "Convert every FC layer into the equivalent convolution: same parameters, same outputs; "
     "then slide the network over several test images side by side."),
    ("gap", "FC Head → &GAP (side-by-side run)", "designer.ui.lab.gap_dialog", "GapDialog",
     "Replace the FC head with global average pooling; compare parameters and train both variants."),
    ("shift", "&Where Is the Cat? (shift probe)", "designer.ui.lab.shift_dialog", "ShiftDialog",
     "Accuracy of the trained model(s) when the test images move by −k…+k pixels; train and compare the FC "
     "head, the FC head with shift augmentation and a GAP head."),
    ("sweep", "Depth × &Width Sweep", "designer.ui.lab.sweep_dialog", "SweepDialog",
     "Train FC heads of several depths and widths; accuracy against parameters and time, Pareto front."),
    ("neurons", "Which FC &Neurons Fire", "designer.ui.lab.neurons_dialog", "NeuronsDialog",
     "Activations of every FC layer for one test image, and the top-3 predictions."),
)


class FcLab(QObject):
    """Owns the lab's dialogs and the models it has trained; one per main window."""

    def __init__(self, window, training_panel=None) -> None:
        super().__init__(window)
        self.window = window
        self.models = LabModels(training_panel, self)
        self.dialogs: dict[str, object] = {}
        self.actions: dict[str, QAction] = {}
        self.menu = window.add_menu("lab", "FC &Lab")
        for name, text, _module, _class, tip in FEATURES:
            action = self.menu.addAction(text)
            action.setStatusTip(tip)
            action.setToolTip(tip)
            action.setData(name)
            action.triggered.connect(self._on_action_triggered)
            self.actions[name] = action
            window.named_actions[f"lab_{name}"] = action
            if name == "gap":
                self.menu.addSeparator()

    def dialog(self, name: str):
        """The feature's dialog, made on first use."""
        if name not in self.dialogs:
            module, class_name = next((module, class_name) for key, _text, module, class_name, _tip in FEATURES
                                      if key == name)
            self.dialogs[name] = getattr(import_module(module), class_name)(self, self.window)
        return self.dialogs[name]

    def open(self, name: str):
        """Show (or raise) the feature's dialog and start its action."""
        dialog = self.dialog(name)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        dialog.start()
        return dialog

    @Slot()
    def _on_action_triggered(self) -> None:
        self.open(self.sender().data())

    @Slot()
    def shutdown(self) -> bool:
        """Cancel and join every dialog's background work (the window is closing)."""
        done = True
        for dialog in self.dialogs.values():
            done = dialog.shutdown() and done
            dialog.close()
        return done


def install_lab(window, training_panel=None) -> FcLab:
    """Add the FC lab menu to ``window`` (uses ``add_menu``, ``named_actions``, ``about_to_close``).

    ``training_panel``: the Training dock, whose settings the lab trains with and whose
    trained network it probes.
    """
    from PySide6.QtWidgets import QApplication

    if getattr(window, "fc_lab", None) is not None:
        return window.fc_lab  # installed already (the window does it itself)
    lab = FcLab(window, training_panel)
    window.about_to_close.connect(lab.shutdown)
    application = QApplication.instance()
    if application is not None:
        application.aboutToQuit.connect(lab.shutdown)
    return lab

"""FC lab report: FC head vs GAP head on Fashion-MNIST, and screenshots of the five lab features.

    python tests/benchmarks/lab_report.py [--epochs 3] [--no-screenshots] [--images docs/images]

Trains resources/templates/mnist-cnn.json (FC head) and mnist-cnn-gap.json (GAP head) with
identical settings (Adam 1e-3, batch 128, seed 0, 10% validation, CPU) on Fashion-MNIST read
from disk (Debian's files in /usr/share/datasets/fashion-mnist; nothing is downloaded), then
prints parameters, test accuracy, accuracy at shifts −4/+4 on x and y, and wall times.
With screenshots (the default) it opens the window offscreen, hands the two trained models
to the FC lab, and saves docs/images/lab-{fc2conv,gap,shift,sweep,neurons}.png.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _progress(label):
    """The run's events as log lines."""
    from designer.training.run import EpochDone, RunEnded, RunStarted

    def show(event) -> None:
        if isinstance(event, RunStarted):
            log(f"  {label}: {event.info.train_samples} training images on {event.info.device}")
        elif isinstance(event, EpochDone):
            metrics = event.metrics
            log(f"  {label}: epoch {metrics.epoch}: train acc {metrics.train_accuracy:.4f}, "
                f"val acc {metrics.validation_accuracy:.4f}, {metrics.seconds:.0f} s")
        elif isinstance(event, RunEnded):
            log(f"  {label}: {event.result.result.message}")

    return show


def train_both(epochs: int, subset: int = 0, models: Path | None = None, reuse: bool = False):
    import torch

    from designer.core import analyze, load_architecture
    from designer.core.paths import TEMPLATES
    from designer.data import load_dataset
    from designer.training import TrainConfig
    from designer.training.datasets import DATASETS
    from designer.training.run import Local, RunRequest, TrainedModel, run, trained_model

    started = time.perf_counter()
    dataset = load_dataset("fashion-mnist", download=False)
    log(f"Fashion-MNIST from {dataset.source}: {dataset.train_images.shape[0]} train, "
        f"{dataset.test_images.shape[0]} test ({time.perf_counter() - started:.1f} s)")
    if subset:  # a quick dry run of the whole script, not a measurement
        from designer.data import Dataset

        dataset = Dataset(dataset.name, dataset.train_images[:subset], dataset.train_labels[:subset],
                          dataset.test_images[:subset], dataset.test_labels[:subset], dataset.class_names,
                          dataset.source)
    DATASETS.put(dataset)  # the run path and the lab read it from the one cache
    config = TrainConfig(dataset="fashion-mnist", epochs=epochs, batch_size=128, optimizer="adam",
                         learning_rate=1e-3, validation_fraction=0.1, seed=0, device="cpu", download=False)
    trained = {}
    for key, template in (("FC head", "mnist-cnn.json"), ("GAP head", "mnist-cnn-gap.json")):
        graph = load_architecture(TEMPLATES / template)
        checkpoint = models / template.replace(".json", ".pt") if models is not None else None
        if reuse and checkpoint is not None and checkpoint.exists():
            # Screenshots again without training again: the weights and the record of that run.
            from designer.training.checkpoint import load_checkpoint

            graph, module, metadata = load_checkpoint(checkpoint)
            result, config = metadata.result, metadata.config
            model = TrainedModel(key, graph, config, module, metadata.normalisation, tuple(metadata.class_names),
                                 result, source=str(checkpoint))
            wall = result.seconds
            log(f"  {key}: loaded {checkpoint} (trained earlier in {wall:.0f} s)")
        else:
            # In this process: the report measures training itself, not a training process's start-up.
            request = RunRequest.of(graph, config, label=key, find_mistakes=False, launch=Local(own_process=False))
            wall = time.perf_counter()
            ended = run(request, _progress(key))
            wall = time.perf_counter() - wall
            result, model = ended.result, trained_model(request, ended)
            if checkpoint is not None and model is not None:
                from designer.training.checkpoint import save_checkpoint

                models.mkdir(parents=True, exist_ok=True)
                save_checkpoint(checkpoint, graph, model.module, config, result, model.normalisation,
                                dataset.class_names)
        if result.status != "finished":
            raise SystemExit(f"{key}: {result.message}")
        torch_params = sum(parameter.numel() for parameter in model.module.parameters())
        trained[key] = {"graph": graph, "template": template, "model": model, "result": result, "wall": wall,
                        "params": analyze(graph).total_params, "torch_params": torch_params}
    return dataset, config, trained, torch.get_num_threads()


def probe(dataset, trained):
    from designer.lab.shift import random_position_probe, shift_probe

    for key, item in trained.items():
        model = item["model"]
        wall = time.perf_counter()
        item["shift_x"] = dict(shift_probe(model.module, dataset.test_images, dataset.test_labels, [-4, 0, 4], "x",
                                           normalisation=model.normalisation))
        item["shift_y"] = dict(shift_probe(model.module, dataset.test_images, dataset.test_labels, [-4, 4], "y",
                                           normalisation=model.normalisation))
        item["position"] = random_position_probe(model.module, dataset.test_images, dataset.test_labels, (40, 40),
                                                 normalisation=model.normalisation)
        item["probe_wall"] = time.perf_counter() - wall


def print_report(config, trained, threads, total_wall) -> None:
    print(f"FC lab report — Fashion-MNIST (60,000 train incl. 10% validation, 10,000 test), "
          f"{config.epochs} epochs each, Adam lr {config.learning_rate:g}, batch {config.batch_size}, seed "
          f"{config.seed}, CPU ({threads} torch threads)")
    header = f"{'':<10} {'template':<20} {'parameters':>11} {'test acc':>9} {'x −4':>7} {'x +4':>7} " \
             f"{'y −4':>7} {'y +4':>7} {'random 40×40':>13} {'train wall':>11}"
    print(header)
    for key, item in trained.items():
        position = item["position"]
        where = f"{position.accuracy:.2%}" if position.supported else "n/a (FC)"
        print(f"{key:<10} {item['template']:<20} {item['params']:>11,} {item['result'].test_accuracy:>9.2%} "
              f"{item['shift_x'][-4]:>7.2%} {item['shift_x'][4]:>7.2%} {item['shift_y'][-4]:>7.2%} "
              f"{item['shift_y'][4]:>7.2%} {where:>13} {item['wall']:>10.1f}s")
    fc, gap = trained["FC head"], trained["GAP head"]
    for key, item in trained.items():
        assert item["params"] == item["torch_params"], f"{key}: analysis {item['params']} ≠ torch {item['torch_params']}"
        assert abs(item["shift_x"][0] - item["result"].test_accuracy) < 1e-12
    print(f"GAP head: {gap['params']:,} vs {fc['params']:,} parameters "
          f"({100 * (fc['params'] - gap['params']) / fc['params']:.1f}% fewer); "
          f"shift 0 accuracy equals the test accuracy for both; probes took "
          f"{fc['probe_wall']:.1f} s and {gap['probe_wall']:.1f} s; total wall {total_wall:.0f} s")


# ----------------------------------------------------------------------------- screenshots


def screenshots(dataset, config, trained, folder: Path) -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from designer.ui.style import apply_style

    apply_style(app)
    from designer.core import load_architecture
    from designer.core.paths import TEMPLATES
    from dataclasses import replace

    from designer.training.datasets import DATASETS
    from designer.ui.main_window import MainWindow

    DATASETS.put(dataset)  # already in memory: the dialogs need not read it again
    window = MainWindow(restore_layout=False)
    lab = window.fc_lab
    panel = window.training_panel
    window.resize(1500, 950)
    window.show()
    window.show_graph(load_architecture(TEMPLATES / "mnist-cnn.json"), None)
    panel.settings.set_dataset("fashion-mnist")
    panel.settings.epochs_spin.setValue(config.epochs)
    panel.settings.batch_size_spin.setValue(config.batch_size)
    panel.settings.set_device("cpu")
    panel.settings.allow_download = False
    fc, gap = trained["FC head"], trained["GAP head"]
    panel.trained = fc["model"]

    def settle(dialog, timeout=1800):
        deadline = time.perf_counter() + timeout
        while dialog.runner.running and time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.02)
        for _ in range(5):
            app.processEvents()
            time.sleep(0.02)

    def save(widget, name):
        path = folder / name
        widget.grab().save(str(path))
        log(f"wrote {path}")

    # 1. FC → convolution with the trained weights, and the score map
    dialog = lab.open("fc_to_conv")
    dialog.tiles_spin.setValue(6)
    settle(dialog)
    log(f"  fc→conv: {dialog.params_label.text()} | {dialog.difference_label.text()}")
    save(dialog, "lab-fc2conv.png")
    dialog.hide()
    window.named_actions["undo"].trigger()
    for model in list(lab.models.all()):
        if "fully convolutional" in model.label:
            lab.models.remove(model.label)

    # 2. FC head → GAP; the side-by-side curves are the two runs above (same settings)
    dialog = lab.open("gap")
    settle(dialog)
    log(f"  gap: {dialog.params_label.text()} | {dialog.saving_label.text()}")
    labels = [f"FC head ({fc['graph'].name})", f"GAP head ({gap['graph'].name})"]
    dialog._reset_curves(labels)
    for label, item in zip(labels, (fc, gap)):
        for metrics in item["result"].history:
            dialog.add_epoch(label, metrics)
    dialog.show_trained([replace(item["model"], label=label) for label, item in zip(labels, (fc, gap))], config)
    lab.models.remove(labels[0])  # the training dock holds the FC-head model already
    for _ in range(5):
        app.processEvents()
    save(dialog, "lab-gap.png")
    dialog.hide()
    window.named_actions["undo"].trigger()

    # 3. Where is the cat?
    dialog = lab.dialog("shift")
    dialog.samples_spin.setValue(2000)
    dialog.shift_spin.setValue(6)
    lab.open("shift")
    settle(dialog)
    save(dialog, "lab-shift.png")
    dialog.hide()

    # 4. Depth × width sweep (on the built-in MNIST sample, so it takes a minute, not an hour)
    panel.settings.set_dataset("mnist-sample")
    dialog = lab.open("sweep")
    dialog.set_settings(depths=(0, 1, 2), widths=(16, 64, 256), activation="ReLU", epochs=2)
    dialog.start_sweep()
    settle(dialog)
    log(f"  sweep: {dialog.status_text()}")
    save(dialog, "lab-sweep.png")
    dialog.hide()
    panel.settings.set_dataset("fashion-mnist")

    # 5. Which FC neurons fire
    dialog = lab.dialog("neurons")
    dialog.index_spin.setValue(0)
    lab.open("neurons")
    settle(dialog)
    save(dialog, "lab-neurons.png")
    dialog.hide()

    lab.shutdown()
    window.document.undo_stack.setClean()
    window.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--no-screenshots", action="store_true")
    parser.add_argument("--models", type=Path, default=None, help="save the trained models here as checkpoints")
    parser.add_argument("--reuse-models", action="store_true", help="load the checkpoints in --models, train nothing")
    parser.add_argument("--subset", type=int, default=0, help="use only this many images (a dry run)")
    parser.add_argument("--images", type=Path, default=ROOT / "docs" / "images")
    arguments = parser.parse_args()
    started = time.perf_counter()
    if not arguments.no_screenshots:
        from PySide6.QtWidgets import QApplication

        QApplication.instance() or QApplication([])
    dataset, config, trained, threads = train_both(arguments.epochs, arguments.subset, arguments.models,
                                                      arguments.reuse_models)
    probe(dataset, trained)
    print_report(config, trained, threads, time.perf_counter() - started)
    sys.stdout.flush()
    if not arguments.no_screenshots:
        arguments.images.mkdir(parents=True, exist_ok=True)
        screenshots(dataset, config, trained, arguments.images)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

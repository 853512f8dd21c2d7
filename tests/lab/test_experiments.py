"""Shift probe, random-position probe, FC-head sweep and Pareto front — without Qt."""

import csv

import numpy as np
import pytest
import torch

from designer.core import TEMPLATES, Graph, analyze, chain, load_architecture
from designer.nn import build_module
from designer.lab.shift import ProbeError, random_position_probe, shift_images, shift_probe
from designer.lab.sweep import (SweepError, SweepRun, SweepSpec, head_variants, pareto_front, pareto_runs, run_sweep,
                                runs_to_csv, sweep_requests)

# --------------------------------------------------------------------------- the toy problem
# Four 3×3 shapes; the class is the shape. Training always puts it in the middle of a
# 12×12 image. An FC head learns "these pixels", a conv + GAP head learns "this shape".

PATTERNS = torch.tensor([
    [[0, 1, 0], [1, 1, 1], [0, 1, 0]],  # plus
    [[1, 0, 1], [0, 1, 0], [1, 0, 1]],  # cross
    [[0, 0, 0], [1, 1, 1], [0, 0, 0]],  # horizontal bar
    [[0, 1, 0], [0, 1, 0], [0, 1, 0]],  # vertical bar
], dtype=torch.float32)
SIZE = 12


def shapes(count: int, generator: torch.Generator):
    labels = torch.randint(0, len(PATTERNS), (count,), generator=generator)
    brightness = 0.5 + 0.5 * torch.rand(count, generator=generator)
    images = torch.zeros(count, 1, SIZE, SIZE)
    images[:, 0, 4:7, 4:7] = PATTERNS[labels] * brightness.view(-1, 1, 1)
    return images, labels


def fc_head_graph() -> Graph:
    graph = Graph("FC head")
    chain(graph, [("Input", {"channels": 1, "height": SIZE, "width": SIZE}), ("FC", {"out_features": 32}),
                  ("ReLU", {}), ("FC", {"out_features": 4})])
    return graph


def gap_head_graph() -> Graph:
    graph = Graph("GAP head")
    chain(graph, [("Input", {"channels": 1, "height": SIZE, "width": SIZE}),
                  ("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": "same"}), ("ReLU", {}),
                  ("GAP", {}), ("FC", {"out_features": 4})])
    return graph


def train_toy(graph: Graph, steps: int = 300):
    torch.manual_seed(0)
    module = build_module(graph)
    optimiser = torch.optim.Adam(module.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        images, labels = shapes(32, generator)
        loss = torch.nn.functional.cross_entropy(module(images), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return module


@pytest.fixture(scope="module")
def toy_models():
    # Tiny tensors: one thread is faster, and far faster when other processes share the cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_toy(fc_head_graph()), train_toy(gap_head_graph())
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def toy_test_set():
    return shapes(400, torch.Generator().manual_seed(2))


def test_fc_head_fails_when_shifted_while_gap_head_does_not(toy_models, toy_test_set):
    fc_model, gap_model = toy_models
    images, labels = toy_test_set
    fc = dict(shift_probe(fc_model, images, labels, shifts=[-2, 0, 2], axis="x"))
    gap = dict(shift_probe(gap_model, images, labels, shifts=[-2, 0, 2], axis="x"))
    assert fc[0] > 0.95 and gap[0] > 0.95  # both learnt the task where they were trained
    for shift in (-2, 2):
        assert gap[shift] > 0.95
        assert gap[shift] - fc[shift] > 0.2
    both = dict(shift_probe(gap_model, images, labels, shifts=[-2, 2], axis="both"))
    assert min(both.values()) > 0.95


def test_random_positions_work_for_gap_and_are_refused_for_fc(toy_models, toy_test_set):
    fc_model, gap_model = toy_models
    images, labels = toy_test_set
    refused = random_position_probe(fc_model, images, labels, canvas=(20, 20))
    assert not refused.supported and refused.accuracy is None
    assert "12×12" in refused.reason and "GAP" in refused.reason
    result = random_position_probe(gap_model, images, labels, canvas=(20, 20), seed=5, batch_size=128)
    assert result.supported and result.samples == 400
    # GAP averages over a larger area on the canvas, so scores shrink; but where the shape
    # sits on that canvas no longer matters: random places score as one fixed place does.
    corner = torch.zeros(400, 1, 20, 20)
    corner[:, :, :SIZE, :SIZE] = images
    fixed = dict(shift_probe(gap_model, corner, labels, shifts=[0]))[0]
    assert result.accuracy == pytest.approx(fixed, abs=0.01)
    # A canvas the size of the images leaves nothing to move: the plain accuracy.
    same = random_position_probe(gap_model, images, labels, canvas=(SIZE, SIZE))
    assert same.accuracy == dict(shift_probe(gap_model, images, labels, shifts=[0]))[0]
    with pytest.raises(ProbeError):
        random_position_probe(gap_model, images, labels, canvas=(8, 8))


def test_score_map_model_is_refused_for_random_positions(toy_test_set):
    from designer.lab.transforms import fc_to_conv

    graph = Graph("conv then FC")
    chain(graph, [("Input", {"channels": 1, "height": SIZE, "width": SIZE}),
                  ("Conv2d", {"out_channels": 4, "kernel_size": 3}), ("FC", {"out_features": 4})])
    converted, _, _ = fc_to_conv(graph)
    images, labels = toy_test_set
    result = random_position_probe(build_module(converted), images, labels, canvas=(16, 16))
    assert not result.supported and "map" in result.reason


# --------------------------------------------------------------------------- shift probe basics


def test_shift_images_fills_with_zero_and_never_wraps():
    image = torch.arange(1, 10, dtype=torch.uint8).reshape(1, 1, 3, 3)
    right = shift_images(image, dx=1)
    assert right[0, 0].tolist() == [[0, 1, 2], [0, 4, 5], [0, 7, 8]]
    up = shift_images(image, dy=-1)
    assert up[0, 0].tolist() == [[4, 5, 6], [7, 8, 9], [0, 0, 0]]
    assert shift_images(image, dx=3).sum() == 0
    assert torch.equal(shift_images(image), image)
    assert shift_images(image.numpy(), dx=-1, dy=1)[0, 0].tolist() == [[0, 0, 0], [2, 3, 0], [5, 6, 0]]


def test_shift_zero_equals_plain_test_accuracy_on_uint8_images():
    torch.manual_seed(3)
    graph = Graph("small")
    chain(graph, [("Input", {"channels": 1, "height": 10, "width": 10}),
                  ("Conv2d", {"out_channels": 4, "kernel_size": 3}), ("ReLU", {}), ("FC", {"out_features": 3})])
    module = build_module(graph)
    generator = np.random.default_rng(0)
    images = generator.integers(0, 256, (203, 1, 10, 10), dtype=np.uint8)
    labels = generator.integers(0, 3, 203).astype(np.int64)
    module.train()
    with torch.no_grad():
        module.eval()
        plain = (module(torch.from_numpy(images).float() / 255).argmax(1).numpy() == labels).mean()
        module.train()
    results = shift_probe(module, images, labels, shifts=range(-2, 3), axis="y", batch_size=50)
    assert [shift for shift, _ in results] == [-2, -1, 0, 1, 2]
    assert dict(results)[0] == pytest.approx(plain, abs=1e-12)
    assert module.training  # the probe leaves the model's mode as it found it
    stop_after_first = iter([False, True, True, True, True, True])
    partial = shift_probe(module, images, labels, shifts=[0, 1], batch_size=500,
                          should_stop=lambda: next(stop_after_first))
    assert [shift for shift, _ in partial] == [0]
    with pytest.raises(ProbeError, match="axis"):
        shift_probe(module, images, labels, axis="z")


# --------------------------------------------------------------------------- sweep


def hand_run(label, parameters, accuracy, seconds):
    return SweepRun(label, parameters, 0, accuracy, seconds)


def test_pareto_front_on_known_points():
    points = [(10, 0.50), (20, 0.70), (15, 0.60), (30, 0.65), (40, 0.90), (25, 0.70), (40, 0.85),
              (5, 0.40), (50, 0.90), (20, 0.70)]
    assert pareto_front(points) == [(5, 0.40), (10, 0.50), (15, 0.60), (20, 0.70), (20, 0.70), (40, 0.90)]
    assert pareto_front([]) == []
    assert pareto_front([(1.0, float("nan")), (2.0, 0.5)]) == [(2.0, 0.5)]


def test_pareto_runs_by_parameters_and_by_time():
    runs = [hand_run("a", 100, 0.80, 9.0), hand_run("b", 200, 0.85, 2.0), hand_run("c", 300, 0.84, 1.0),
            hand_run("failed", 10, None, 1.0)]
    assert [run.label for run in pareto_runs(runs, "parameters")] == ["a", "b"]
    assert [run.label for run in pareto_runs(runs, "seconds")] == ["c", "b"]
    with pytest.raises(SweepError):
        pareto_runs(runs, "flops")


def test_head_variants_have_the_expected_parameter_counts():
    graph = load_architecture(TEMPLATES / "mnist-cnn.json")
    trunk = analyze(graph).total_params - 402_826  # everything but Flatten → FC 128 → FC 10
    features = 64 * 7 * 7
    variants = head_variants(graph, depths=[0, 1, 2], widths=[32, 256], activation="Tanh")
    assert [label for label, _ in variants] == ["classifier only", "1×32 Tanh", "1×256 Tanh",
                                                "2×32 Tanh", "2×256 Tanh"]

    def expected(depth, width):
        if depth == 0:
            return features * 10 + 10
        return features * width + width + (depth - 1) * (width * width + width) + width * 10 + 10

    wanted = [expected(0, 0), expected(1, 32), expected(1, 256), expected(2, 32), expected(2, 256)]
    for (label, variant), head in zip(variants, wanted):
        analysis = analyze(variant)
        assert analysis.valid and analysis.output_shape == (10,)
        assert analysis.total_params == trunk + head, label
    two_deep = variants[3][1]
    assert "flatten1" in two_deep  # the head keeps its Flatten
    assert [two_deep.block(block_id).type_id for block_id in two_deep.topological_order()[-5:]] == \
        ["FC", "Tanh", "FC", "Tanh", "FC"]
    assert sum(p.numel() for p in build_module(two_deep).parameters()) == trunk + wanted[3]
    assert graph.block("fc1").params["out_features"] == 128  # the design itself is untouched


def test_head_variants_on_a_gap_design_keep_the_gap_and_add_dropout():
    graph = load_architecture(TEMPLATES / "mnist-cnn-gap.json")
    spec = SweepSpec(depths=(1,), widths=(16,), activation="ReLU", epochs=1, dropout=0.25)
    [(label, variant)] = spec.variants(graph)
    order = variant.topological_order()
    assert [variant.block(block_id).type_id for block_id in order[-5:]] == ["GAP", "FC", "ReLU", "Dropout", "FC"]
    channels = analyze(graph).reports["gap1"].output_shape[0]
    head = channels * 16 + 16 + 16 * 10 + 10
    assert analyze(variant).total_params == analyze(graph).total_params - (channels * 10 + 10) + head


def test_sweep_spec_validates():
    with pytest.raises(SweepError):
        SweepSpec(depths=(), widths=(8,))
    with pytest.raises(SweepError):
        SweepSpec(depths=(1,), widths=(0,))
    with pytest.raises(SweepError):
        SweepSpec(activation="Softmax")


class FiguresFromCounts:
    """A launch that "trains" by arithmetic: accuracy and time from the parameter count, and a
    NaN for the 2×64 variant. It stands where the training process (or a cluster) would."""

    def __init__(self):
        self.seen = []

    def run_all(self, requests, emit, control):
        from designer.core.fileformat import parse_document
        from designer.training.records import EpochMetrics, TrainResult
        from designer.training.run import RunEnded, RunOutcome, RunResult

        results = []
        for request in requests:
            self.seen.append(request.label)
            parameters = analyze(parse_document(request.design)).total_params
            if control.stopped(request.run_id):
                result = TrainResult("stopped", "stopped before it began", 0, None, None, None, None, 0.0)
            elif "2×64" in request.label:
                result = TrainResult("failed", "the loss became NaN at epoch 1, batch 3", 0, None, None, None, None,
                                     0.1, failure="non-finite-loss")
            else:
                history = [EpochMetrics(1, 1.0, 0.5, 0.9, parameters / 100_000, 1.0, 1e-3)]
                result = TrainResult("finished", "finished", 1, 1, 0.9, 0.5, None, parameters / 1000, history)
            ended = RunResult(request.run_id, RunOutcome(result, None, ()))
            emit(RunEnded(request.run_id, ended))
            results.append(ended)
            if request.label == "1×64 ReLU" and self.cancel_after_second:
                control.stop()
        return results

    cancel_after_second = False


def test_run_sweep_trains_every_variant_on_the_run_path_records_failures_and_cancels(tmp_path):
    from designer.training.records import TrainConfig

    graph = load_architecture(TEMPLATES / "lenet5.json")
    spec = SweepSpec(depths=(1, 2), widths=(8, 64), epochs=2)
    config = TrainConfig(epochs=7, device="cpu")
    requests = sweep_requests(graph, spec, config)
    assert [request.label for request in requests] == ["1×8 ReLU", "1×64 ReLU", "2×8 ReLU", "2×64 ReLU"]
    assert all(request.config.epochs == 2 and not request.keep_weights for request in requests)

    launch = FiguresFromCounts()
    events = []
    runs = run_sweep(graph, spec, config, emit=events.append, launch=launch)
    assert launch.seen == ["1×8 ReLU", "1×64 ReLU", "2×8 ReLU", "2×64 ReLU"], "one queue, in order"
    assert [run.label for run in runs] == launch.seen and len(events) == 4
    variants = head_variants(graph, [1, 2], [8, 64])
    assert runs[0].parameters == analyze(variants[0][1]).total_params
    assert runs[0].accuracy == pytest.approx(runs[0].parameters / 100_000)
    assert runs[3].accuracy is None and "NaN" in runs[3].error and not runs[3].ok
    assert all(run.ok for run in runs[:3])

    launch = FiguresFromCounts()
    launch.cancel_after_second = True
    cancelled = run_sweep(graph, spec, config, launch=launch)
    assert [run.label for run in cancelled] == ["1×8 ReLU", "1×64 ReLU"], "the variants after the cancel are left out"

    path = tmp_path / "sweep.csv"
    runs_to_csv(runs, path)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert [row["label"] for row in rows] == [run.label for run in runs]
    assert rows[0]["parameters"] == str(runs[0].parameters)
    assert rows[3]["validation_accuracy"] == "" and "NaN" in rows[3]["error"]
    front = {run.label for run in pareto_runs(runs, "parameters")}
    assert {row["label"] for row in rows if row["pareto_parameters"] == "1"} == front
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file

"""Train the network in model.py with plain PyTorch, in one process or many.

    python train.py --data DIR
    python -m torch.distributed.run --nproc_per_node 2 train.py --data DIR

DIR holds MNIST-style IDX files or CIFAR-10 (see data.py). Images are scaled to
0..1 and normalised per channel with the mean and standard deviation of the
training split; a share of each class is held out for validation (seeded); the
test set is evaluated at the end. The weights are saved as a state_dict
(--save, default trained.pt) with a JSON file beside them (trained.json)
holding the normalisation the weights expect.

Under torchrun (WORLD_SIZE > 1) each process trains on its share of every
epoch, dealt by a DistributedSampler, in DistributedDataParallel (gloo on the
CPU, nccl with one GPU per process); --batch-size is per process. Only process
0 prints and writes. The SETTINGS below are the defaults; every one can be
changed on the command line.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time

import torch
from torch.nn import functional

# Under `python -I` the folder of this script is not on sys.path; its siblings
# must be importable wherever the folder was copied to.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import data  # noqa: E402
import distributed  # noqa: E402
from model import Model  # noqa: E402

# BEGIN SETTINGS (written by Network Designer's export)
SETTINGS = {
    'dataset': 'mnist-sample',
    'epochs': 3,
    'batch_size': 64,
    'optimizer': 'adam',
    'learning_rate': 0.001,
    'momentum': 0.9,
    'weight_decay': 0.0,
    'validation_fraction': 0.1,
    'seed': 0,
    'class_names': ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
}
# END SETTINGS

EVALUATION_BATCH = 500


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="the dataset's folder (IDX files or CIFAR-10)")
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    parser.add_argument("--batch-size", type=int,
                        default=SETTINGS["batch_size"],
                        help="images per step in each process")
    parser.add_argument("--optimizer", choices=("sgd", "adam", "adamw"),
                        default=SETTINGS["optimizer"])
    parser.add_argument("--lr", type=float,
                        default=SETTINGS["learning_rate"])
    parser.add_argument("--momentum", type=float,
                        default=SETTINGS["momentum"], help="SGD only")
    parser.add_argument("--weight-decay", type=float,
                        default=SETTINGS["weight_decay"])
    parser.add_argument("--validation-fraction", type=float,
                        default=SETTINGS["validation_fraction"])
    parser.add_argument("--seed", type=int, default=SETTINGS["seed"])
    parser.add_argument("--device", choices=distributed.DEVICES,
                        default="auto")
    parser.add_argument("--weights", metavar="PT",
                        help="start from these weights (e.g. weights.pt)")
    parser.add_argument("--save", metavar="PT", default="trained.pt",
                        help="where to save the trained weights")
    arguments = parser.parse_args(argv)
    if arguments.epochs < 1 or arguments.batch_size < 1:
        parser.error("--epochs and --batch-size must be at least 1")
    if not 0 <= arguments.validation_fraction < 1:
        parser.error("--validation-fraction must be in [0, 1)")
    return arguments


def make_optimizer(arguments, parameters):
    if arguments.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=arguments.lr,
                               momentum=arguments.momentum,
                               weight_decay=arguments.weight_decay)
    if arguments.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=arguments.lr,
                                weight_decay=arguments.weight_decay)
    return torch.optim.AdamW(parameters, lr=arguments.lr,
                             weight_decay=arguments.weight_decay)


def batch_starts(count, size):
    """Where each batch starts; a last batch of one image (which BatchNorm
    cannot train on) is folded into the batch before it."""
    starts = list(range(0, count, size))
    if len(starts) > 1 and count - starts[-1] == 1:
        starts.pop()
    return starts + [count]


class Preparation:
    """uint8 images -> normalised float32 on the device, a batch at a time."""

    def __init__(self, mean, std, device):
        mean = torch.tensor(mean, dtype=torch.float32)
        std = torch.tensor(std, dtype=torch.float32)
        self.scale = (1.0 / (255.0 * std)).view(1, -1, 1, 1).to(device)
        self.shift = (-mean / std).view(1, -1, 1, 1).to(device)
        self.device = device

    def __call__(self, images):
        images = images.to(self.device).to(torch.float32)
        return torch.addcmul(self.shift, images, self.scale)


def evaluate(model, images, labels, prepare, processes):
    """Mean loss and accuracy over all processes; each evaluates its part."""
    part = torch.from_numpy(processes.part(images.shape[0]))
    loss_sum = correct = 0.0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(part), EVALUATION_BATCH):
            indices = part[start:start + EVALUATION_BATCH]
            logits = model(prepare(images[indices]))
            targets = labels[indices].to(prepare.device)
            loss_sum += functional.cross_entropy(
                logits, targets, reduction="sum").item()
            correct += (logits.argmax(dim=1) == targets).sum().item()
    loss_sum, correct, count = processes.sum(loss_sum, correct, len(part))
    return loss_sum / max(count, 1), correct / max(count, 1)


def save_atomically(path, write):
    """Write through a temporary file beside ``path``: never half a file."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=folder, suffix=".partial")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def train(arguments, processes):
    dataset = data.load(arguments.data)
    if dataset.input_shape != tuple(Model.input_shape):
        raise SystemExit(f"the network reads images of {Model.input_shape} "
                         f"but {arguments.data} holds {dataset.input_shape}")
    train_index, validation_index = data.stratified_split(
        dataset.train_labels, arguments.validation_fraction, arguments.seed)
    mean, std = data.channel_statistics(dataset.train_images[train_index])
    prepare = Preparation(mean, std, processes.device)
    train_images = torch.from_numpy(dataset.train_images[train_index])
    train_labels = torch.from_numpy(dataset.train_labels[train_index])
    validation_images = torch.from_numpy(
        dataset.train_images[validation_index])
    validation_labels = torch.from_numpy(
        dataset.train_labels[validation_index])

    torch.manual_seed(arguments.seed)
    model = Model()
    if arguments.weights:
        model.load_state_dict(torch.load(arguments.weights, map_location="cpu",
                                         weights_only=True))
    network = processes.wrap(model)
    optimizer = make_optimizer(arguments, model.parameters())
    processes.print(
        f"{Model.__name__}: {len(train_index):,} training, "
        f"{len(validation_index):,} validation, "
        f"{dataset.test_labels.shape[0]:,} test images; "
        f"{processes.world_size} process(es) on {processes.device}")

    for epoch in range(1, arguments.epochs + 1):
        started = time.perf_counter()
        network.train()
        order = processes.shard(len(train_index), epoch, arguments.seed)
        starts = batch_starts(len(order), arguments.batch_size)
        loss_sum = correct = seen = 0.0
        for start, end in zip(starts, starts[1:]):
            indices = order[start:end]
            inputs = prepare(train_images[indices])
            targets = train_labels[indices].to(processes.device)
            logits = network(inputs)
            loss = functional.cross_entropy(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise SystemExit(f"the loss became {loss_value} in epoch "
                                 f"{epoch}: lower the learning rate")
            loss_sum += loss_value * len(indices)
            correct += (logits.argmax(dim=1) == targets).sum().item()
            seen += len(indices)
        loss_sum, correct, seen = processes.sum(loss_sum, correct, seen)
        line = (f"epoch {epoch}/{arguments.epochs}  train loss "
                f"{loss_sum / seen:.4f} acc {correct / seen:.2%}")
        if len(validation_index):
            validation_loss, validation_accuracy = evaluate(
                model, validation_images, validation_labels, prepare,
                processes)
            line += (f"  val loss {validation_loss:.4f} "
                     f"acc {validation_accuracy:.2%}")
        processes.print(f"{line}  {time.perf_counter() - started:.1f} s")

    test_loss, test_accuracy = evaluate(
        model, torch.from_numpy(dataset.test_images),
        torch.from_numpy(dataset.test_labels), prepare, processes)
    processes.print(f"test accuracy {test_accuracy:.2%} "
                    f"(loss {test_loss:.4f})")
    if processes.is_main:
        state = {key: value.cpu() for key, value in model.state_dict().items()}
        save_atomically(arguments.save,
                        lambda handle: torch.save(state, handle))
        record = {"mean": mean, "std": std,
                  "class_names": SETTINGS["class_names"],
                  "input": "uint8 pixels / 255, then (x - mean) / std "
                           "per channel",
                  "test_accuracy": test_accuracy}
        info = os.path.splitext(arguments.save)[0] + ".json"
        save_atomically(info, lambda handle: handle.write(
            json.dumps(record, indent=2).encode("utf-8")))
        processes.print(f"saved the weights in {arguments.save} and the "
                        f"normalisation they expect in {info}")
    processes.barrier()
    return model


def main(argv=None):
    arguments = parse_arguments(argv)
    try:
        with distributed.start(arguments.device) as processes:
            return train(arguments, processes)
    except (data.DatasetError, distributed.DistributedError) as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()

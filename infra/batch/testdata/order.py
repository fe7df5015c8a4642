"""Prints the PyTorch trainer's micro-batches of every step of a run, for
comparison with the Go trainer's StepBatches. Input: a JSON file with
examples ({"IDs", "Labels"}), the training config and the step count, or a list of them."""

import json
import sys

import numpy as np

from trainer.train import Order, training_config


def step_batches(case):
    exs = [(np.array(e["IDs"], dtype=np.int64), None if e["Labels"] is None else np.array(e["Labels"], dtype=np.int64))
           for e in case["examples"]]
    order = Order(exs, training_config(case["config"]))
    out = []
    for s in range(case["steps"]):
        batches, tokens = order.step_batches(s)
        out.append({"batches": [{"ids": i.ravel().tolist(), "mask": m.ravel().tolist(), "labels": l.ravel().tolist()}
                                for i, m, l in batches], "tokens": tokens})
    return out


def main(path):
    with open(path) as f:
        cases = json.load(f)
    if isinstance(cases, dict):
        json.dump(step_batches(cases), sys.stdout)
    else:
        json.dump([step_batches(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])

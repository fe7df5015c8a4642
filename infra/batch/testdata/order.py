"""Prints the PyTorch trainer's micro-batches of every step of a run, for
comparison with the Go trainer's StepBatches. Input: a JSON file with
examples ({"IDs", "Labels"}), the training config and the step count."""

import json
import sys

import numpy as np

from trainer.train import Order, training_config


def main(path):
    with open(path) as f:
        case = json.load(f)
    exs = [(np.array(e["IDs"], dtype=np.int64), None if e["Labels"] is None else np.array(e["Labels"], dtype=np.int64))
           for e in case["examples"]]
    order = Order(exs, training_config(case["config"]))
    out = []
    for s in range(case["steps"]):
        batches, tokens = order.step_batches(s)
        out.append({"batches": [{"ids": i.ravel().tolist(), "mask": m.ravel().tolist(), "labels": l.ravel().tolist()}
                                for i, m, l in batches], "tokens": tokens})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])

"""Held-out rows for a validation loss: `eval_fraction` of a dataset kept out of training, the same rows for the same
seed, so the loss on them says whether the model learned the task or memorized its rows.

    train_idx, held_idx = split_rows(records, fraction=0.2, seed=42)   # ValueError when too few rows

Identical rows go to the same side: the starter data and hand-made sets repeat rows, and a held-out row that is
also trained on would measure memorization, which is what the split is there to rule out.
"""

import json
import random

MIN_HELD_OUT = 2  # one row's loss swings with that row; two is the least that averages anything
MIN_TRAINING = 2


def split_rows(records: list[dict], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(training indices, held-out indices), each in the dataset's order. Whole groups of identical rows are held
    out, drawn in an order fixed by `seed`, until about `fraction` of the rows is out."""
    if not fraction:
        return list(range(len(records))), []
    groups: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        groups.setdefault(json.dumps(record, sort_keys=True, ensure_ascii=False), []).append(index)
    order = list(groups.values())
    random.Random(seed).shuffle(order)
    wanted = round(fraction * len(records))
    held: list[int] = []
    for group in order:
        if len(held) >= wanted:
            break
        held += group
    check_split(len(records), len(groups), fraction, len(held))
    kept = set(held)
    return [i for i in range(len(records)) if i not in kept], sorted(held)


def check_split(rows: int, distinct: int, fraction: float, held: int) -> None:
    """Refuse a split that leaves too little on either side, saying what to change."""
    if held < MIN_HELD_OUT:
        raise ValueError(f"eval_fraction: {fraction:g} of {rows} rows ({distinct} distinct) holds out {held}; at "
                         f"least {MIN_HELD_OUT} are needed: raise eval_fraction or use more rows")
    if rows - held < MIN_TRAINING:
        raise ValueError(f"eval_fraction: {fraction:g} of {rows} rows ({distinct} distinct) holds out {held} and "
                         f"leaves {rows - held} to train on: lower eval_fraction or use more distinct rows")

"""Several LoRA adapters in one batch, one adapter per row, with two batched matmuls per layer.

PEFT's mixed-batch inference (`adapter_names=`) loops over the adapters inside every LoRA layer: pick the rows,
cast, two matmuls, scale, add back, ~10 small ops per adapter per layer. For three adapters on SmolLM2 that is
~6,000 ops per generated token, which on a CPU costs more than the base model's own forward. Here the base runs with
its adapters switched off and a forward hook on each LoRA layer adds every row's update at once:
`x @ A_row^T @ B_row^T * scale_row`, with zeros for rows without an adapter. The arithmetic is that of PEFT's
single-adapter forward (update in the adapter dtype, added, rounded once to the layer's dtype), so a row gets the
logits of generating alone, up to the batch-size noise of bf16 matmuls.

Only LoRA A/B are stacked. An adapter that also trains a bias on B (`lora_bias`), uses DoRA (`use_dora`) or
carries whole modules (`modules_to_save`, trainable tokens) would lose that part here, so the block declines and
the caller uses PEFT's `adapter_names`, which handles them.

    with stacked_adapters(peft_model, [None, "run-a", "run-b"]) as rows:   # rows: base, run-a, run-b
        model.generate(**batch)
        rows.select(["run-b", None])                                          # another batch of the same adapters
"""

from contextlib import contextmanager


def _stack(layer, names: list[str]):
    """(A^T, B^T, scale) for one LoRA layer with one entry per name in `names` after a zero entry (rows without an
    adapter, or whose adapter skips this layer), or None when it is not a plain LoRA Linear."""
    import torch

    present = [name for name in names if name in layer.lora_A]
    if not present:
        return ()
    if any(name in getattr(layer, "lora_variant", {}) for name in present) or not isinstance(
            layer.lora_A[present[0]], torch.nn.Linear):
        return None  # DoRA and other variants, or LoRA on embeddings: leave those to PEFT
    rank = max(layer.lora_A[name].out_features for name in present)
    sample = layer.lora_A[present[0]].weight
    a = sample.new_zeros(len(names) + 1, rank, layer.in_features)
    b = sample.new_zeros(len(names) + 1, layer.out_features, rank)
    scale = sample.new_zeros(len(names) + 1, 1, 1)
    for i, name in enumerate(names, start=1):
        if name in present:
            r = layer.lora_A[name].out_features
            a[i, :r] = layer.lora_A[name].weight
            b[i, :, :r] = layer.lora_B[name].weight
            scale[i] = layer.scaling[name]
    return a.transpose(1, 2), b.transpose(1, 2), scale


class RowAdapters:
    """The hooked layers' per-row (A, B, scale), gathered for the rows of the batch that runs next."""

    def __init__(self, names: list[str], stacks: list):
        self.position = {name: i for i, name in enumerate(names, start=1)}
        self.stacks = stacks
        self.current = [None] * len(stacks)

    def select(self, rows: list[str | None]) -> None:
        import torch

        if not self.stacks:
            return
        index = torch.tensor([self.position.get(name, 0) for name in rows], device=self.stacks[0][0].device)
        self.current = [tuple(t.index_select(0, index) for t in stack) for stack in self.stacks]

    def hook(self, n: int):
        import torch

        def add_rows_update(_module, args, output):
            a_t, b_t, scale = self.current[n]
            x = args[0].to(a_t.dtype)
            # summed in the adapter dtype, then rounded once, as PEFT does for a single active adapter (PEFT's own
            # mixed batches round the update first, which changes greedy answers within a few tokens)
            return (output + torch.bmm(torch.bmm(x, a_t), b_t) * scale).to(output.dtype)

        return add_rows_update


def plain_lora(config) -> bool:
    """True when an adapter config adds nothing but A/B matrices (what `_stack` copies)."""
    return (getattr(config, "peft_type", None) == "LORA" and not config.lora_bias and not config.use_dora
            and not config.modules_to_save and not getattr(config, "trainable_token_indices", None))


@contextmanager
def stacked_adapters(model, rows: list[str | None], adapters: list[str | None] | None = None):
    """Adapters off and per-row updates hooked in for the block, first for `rows` (one batch: the gathered
    updates take rows x every layer's A and B). Yields a RowAdapters whose `select(rows)` re-points the hooks at
    another batch of the `adapters` stacked (default: those of `rows`; continuous batching names every adapter of
    its queue and selects batch by batch), or False (and changes nothing) when some adapter or layer is not plain
    LoRA; the caller then uses PEFT's `adapter_names`."""
    from peft.tuners.lora import LoraLayer

    names = list(dict.fromkeys(name for name in (rows if adapters is None else adapters) if name is not None))
    if not all(plain_lora(model.peft_config[name]) for name in names):
        yield False
        return
    layers, stacks = [], []
    for module in model.modules():
        if isinstance(module, LoraLayer):
            stack = _stack(module, names)
            if stack is None:
                yield False
                return
            if stack:
                layers.append(module)
                stacks.append(stack)
    adapters = RowAdapters(names, stacks)
    adapters.select(rows)
    handles = []
    try:
        with model.disable_adapter():
            handles = [layer.register_forward_hook(adapters.hook(n)) for n, layer in enumerate(layers)]
            yield adapters
    finally:
        for handle in handles:
            handle.remove()

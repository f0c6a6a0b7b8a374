"""Several LoRA adapters in one batch, one adapter per row, with two batched matmuls per layer.

PEFT's mixed-batch inference (`adapter_names=`) loops over the adapters inside every LoRA layer: pick the rows,
cast, two matmuls, scale, add back, ~10 small ops per adapter per layer. For three adapters on SmolLM2 that is
~6,000 ops per generated token, which on a CPU costs more than the base model's own forward. Here the base runs with
its adapters switched off and a forward hook on each LoRA layer adds every row's update at once:
`((x @ [A_1; A_2; ...]^T) * mask_row) @ [B_1, B_2, ...]^T`, where a row's mask keeps its own adapter's rank block,
scaled, and zeroes the rest (every block for rows without an adapter). The arithmetic is that of PEFT's
single-adapter forward (update in the adapter dtype, added, rounded once to the layer's dtype), so a row gets the
logits of generating alone, up to the rounding noise of batched matmuls.

Only LoRA A/B are stacked. An adapter that also trains a bias on B (`lora_bias`), uses DoRA (`use_dora`) or
carries whole modules (`modules_to_save`, trainable tokens) would lose that part here, so the block declines and
the caller uses PEFT's `adapter_names`, which handles them.

    with stacked_adapters(peft_model, [None, "run-a", "run-b"]) as rows:   # rows: base, run-a, run-b
        model.generate(**batch)
        rows.select(["run-b", None])                                          # another batch of the same adapters
"""

from contextlib import contextmanager


def _stack(layer, names: list[str]):
    """(A^T, B^T, spans) for one LoRA layer: the A rows of every adapter in `names` that this layer has,
    concatenated (in x K), their B columns (K x out), and {name: (start, stop, scale)}; () when no adapter touches
    the layer, None when it is not a plain LoRA Linear."""
    import torch

    present = [name for name in names if name in layer.lora_A]
    if not present:
        return ()
    if any(name in getattr(layer, "lora_variant", {}) for name in present) or not isinstance(
            layer.lora_A[present[0]], torch.nn.Linear):
        return None  # DoRA and other variants, or LoRA on embeddings: leave those to PEFT
    spans, start = {}, 0
    for name in present:
        rank = layer.lora_A[name].out_features
        spans[name] = (start, start + rank, float(layer.scaling[name]))
        start += rank
    a = torch.cat([layer.lora_A[name].weight for name in present])
    b = torch.cat([layer.lora_B[name].weight for name in present], dim=1)
    return a.t().contiguous(), b.t().contiguous(), spans


class RowAdapters:
    """Each row's LoRA update through every adapter's A at once: `(x @ A_all) * mask_row @ B_all`, where a row's
    mask holds its adapter's scale over that adapter's rank block and zeros elsewhere (all zeros for the base), so
    the other blocks add exact zeros. Re-pointing at another batch builds small masks, one per distinct layout of
    adapters over layers, and copies no weights: continuous batching changes its rows at almost every step."""

    def __init__(self, stacks: list):
        self.stacks = stacks
        layouts = {}  # layers touched by the same adapters with the same ranks share a mask
        self.layout = [layouts.setdefault(tuple((n, s[:2]) for n, s in spans.items()), len(layouts))
                       for _, _, spans in stacks]
        self.spans = {self.layout[i]: stack[2] for i, stack in enumerate(stacks)}
        self.masks = {}

    def select(self, rows: list[str | None]) -> None:
        if not self.stacks:
            return
        sample = self.stacks[0][0]
        self.masks = {}
        for layout, spans in self.spans.items():
            width = max(stop for _, stop, _ in spans.values())
            mask = sample.new_zeros(len(rows), 1, width)
            for n, name in enumerate(rows):
                if name in spans:
                    start, stop, scale = spans[name]
                    mask[n, 0, start:stop] = scale
            self.masks[layout] = mask

    def hook(self, n: int):
        def add_rows_update(_module, args, output):
            a_t, b_t, _ = self.stacks[n]
            x = args[0].to(a_t.dtype)
            # summed in the adapter dtype, then rounded once, as PEFT does for a single active adapter (PEFT's own
            # mixed batches round the update first, which changes greedy answers within a few tokens)
            return (output + ((x @ a_t) * self.masks[self.layout[n]]) @ b_t).to(output.dtype)

        return add_rows_update


def plain_lora(config) -> bool:
    """True when an adapter config adds nothing but A/B matrices (what `_stack` copies)."""
    return (getattr(config, "peft_type", None) == "LORA" and not config.lora_bias and not config.use_dora
            and not config.modules_to_save and not getattr(config, "trainable_token_indices", None))


@contextmanager
def stacked_adapters(model, rows: list[str | None], adapters: list[str | None] | None = None):
    """Adapters off and per-row updates hooked in for the block, first for `rows`. Yields a RowAdapters whose
    `select(rows)` re-points the hooks at another batch of the `adapters` stacked (default: those of `rows`;
    continuous batching names every adapter of its queue and selects batch by batch), or False (and changes
    nothing) when some adapter or layer is not plain LoRA; the caller then uses PEFT's `adapter_names`."""
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
    adapters = RowAdapters(stacks)
    adapters.select(rows)
    handles = []
    try:
        with model.disable_adapter():
            handles = [layer.register_forward_hook(adapters.hook(n)) for n, layer in enumerate(layers)]
            yield adapters
    finally:
        for handle in handles:
            handle.remove()

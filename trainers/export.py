"""Export a LoRA/QLoRA run as a plain model: merge the adapter into its base with PEFT's `merge_and_unload` and save
a full checkpoint (weights + tokenizer) that any transformers user can load without PEFT.

    from trainers.export import merge_adapter
    folder = merge_adapter("20261124-101500-stage3-lora")      # -> runs/<run_id>/merged/

A QLoRA adapter is merged into the full-precision base, not the 4-bit one: the merged model is the base plus the
learned low-rank update, stored in the dtype of the base checkpoint.
"""

import os
import shutil
from pathlib import Path

from trainers import runs
from trainers.config import build_config
from trainers.sft_core import base_for

MERGED_DIR = "merged"


def merged_path(run_id: str) -> Path:
    return runs.run_path(run_id) / MERGED_DIR


def merge_adapter(run_id: str, overwrite: bool = True) -> Path:
    """Merge the run's adapter into the weights it was trained on and save them under the run directory."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from trainers.models import load_tokenizer

    record = runs.read_run(run_id)
    if record.get("method") not in ("lora", "qlora"):
        raise ValueError(f"run {run_id} trained all weights ({record.get('method')}); its model folder is already "
                         f"a full checkpoint: {record.get('artifact_dir')}")
    adapter = record.get("artifact_dir")
    if not adapter or not (Path(adapter) / "adapter_config.json").is_file():
        raise ValueError(f"run {run_id} has no saved adapter (status {record.get('status')})")
    target = merged_path(run_id)
    if target.exists() and not overwrite:
        return target
    base_path = base_for(build_config(runs.read_config(run_id)))
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, adapter).merge_and_unload()
    tmp = target.with_name(f".{MERGED_DIR}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp)
    load_tokenizer(base_path).save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)  # a half-written export never looks finished
    return target

"""One short note per stage: what the stage teaches the model and what to look at in the app to see it."""

STAGE_NOTES = {
    "stage1_sft": (
        "**Stage 1 · plain SFT.** Every weight learns from `{prompt, output}` pairs, each task asked in exactly one "
        "way. *Look for:* a loss that drops quickly, correct answers on the trained wording, and answers that fall "
        "apart in the Paraphrase test once the request is reworded or put in another template."),
    "stage2_instruction": (
        "**Stage 2 · instruction tuning.** Every weight learns from `{instruction, input, response}` rows, each "
        "task worded several ways and each row wrapped in a prompt format drawn at random. *Look for:* the same "
        "answer across phrasings and held-out templates (a green column in the Paraphrase heatmap), not just a "
        "low loss."),
    "stage3_lora": (
        "**Stage 3 · LoRA.** The base stays frozen; small low-rank matrices next to the projection layers learn. "
        "*Look for:* about 1-4% trainable parameters, a lower peak memory and an adapter of a few MB in Runs, and "
        "a base that still answers what it knew before (Compare base vs adapter)."),
    "stage3_qlora": (
        "**Stage 3 · QLoRA.** The same adapters, trained on a base stored in 4-bit NF4. *Look for:* the frozen "
        "weights taking about a quarter of the memory in the Runs efficiency table, at some cost in speed "
        "(de-quantizing every step), with answers close to LoRA's."),
    "stage4_dpo": (
        "**Stage 4a · preference tuning (DPO).** LoRA adapters learn from `{prompt, chosen, rejected}` pairs to "
        "make the chosen answer more likely than the rejected one, relative to the starting model (the reference, "
        "no second copy: the adapter switched off). Start from the base or from an earlier run (`init_from`). "
        "*Look for:* the reward margin and the preference accuracy rising while the loss falls below ln 2 = 0.69 "
        "(where every pair is a coin flip), then fewer confidently wrong answers in Compare and Evaluate."),
    "stage4_grpo": (
        "**Stage 4b · RL with verifiable rewards (GRPO).** For each prompt the model samples a group of answers; "
        "the evaluation suite's own checkers score them (correct, format, length) and LoRA adapters learn to make "
        "the better-than-the-group answers more likely. No labels, no judge model. *Look for:* the mean reward "
        "rising, the completions getting shorter as fewer are cut off, and the sampled answers in the table below "
        "the chart turning from wrong to right."),
}

PRESETS = {
    "stage1_sft": "1 · SFT (all weights)",
    "stage2_instruction": "2 · Instruction tuning (all weights)",
    "stage3_lora": "3 · LoRA (adapters)",
    "stage3_qlora": "3 · QLoRA (adapters, 4-bit base)",
    "stage4_dpo": "4 · DPO (preference pairs)",
    "stage4_grpo": "4 · GRPO (rewards from checks)",
}

DATA_NOTE = (
    "Rows flow one way: a starter file, an upload (JSONL / JSON / CSV / Parquet) or a Hub dataset → validation "
    "(every problem with its line) → a saved dataset the Train tab can pick. Stage 1 rows are `{prompt, output}`; "
    "Stage 2 rows are `{instruction, input, response}`; preference rows `{prompt, chosen, rejected}` train Stage 4 "
    "DPO, and prompts with a check `{prompt, check}` train Stage 4 GRPO.")

# One line per metric name the tabs show; the numbers come from evalsuite.robustness and evalsuite.scorers.
METRIC_NOTES = {
    "mean score": "the average score over every phrasing of every query (1 = all right)",
    "95% interval (phrasings)": ("where the mean score would likely land with other phrasings of this one task "
                                 "(bootstrap over the phrasings shown)"),
    "95% interval": ("where a score or a difference would likely land on another draw of as many queries "
                     "(bootstrap over queries, a query's phrasings resampled together; differences paired over the "
                     "same queries)"),
    "worst": "the lowest score among a query's phrasings, averaged over queries: what the unluckiest wording gets",
    "spread": "best minus worst phrasing of a query: 0 when the wording does not matter",
    "consistency": "the share of phrasing pairs whose answers are identical once normalised (right or wrong)",
    "flip rate": "the share of rephrasings whose pass/fail differs from the first phrasing's",
    "paraphrases / training templates / held-out templates": (
        "the mean score on reworded requests, on the prompt formats training used, and on formats it never saw"),
    "strict / loose": ("instruction checks (IFEval's rules): strict scores the answer as written; loose also "
                       "accepts it with its first or last line or markdown asterisks removed"),
    "prompt / instruction level": ("prompt level: every instruction of a query followed; instruction level: the "
                                   "share of single instructions followed"),
}


def metric_notes(names: tuple[str, ...] | None = None) -> str:
    """A Markdown list explaining the metric names shown next to it."""
    return "\n".join(f"- **{name}**: {text}" for name, text in METRIC_NOTES.items() if names is None or name in names)

"""Compare tab: one prompt, an answer from the base and from every selected stage side by side, through
`trainers.generate.answer_grid` (one user message): the base and its adapters answer in one batched generate with
per-row adapters, full checkpoints on their own, and each answers what it answers in Chat.
"""

import time

import gradio as gr

from playground.chat_tab import MAX_CHAT_CHARS, generation_settings, prompt_problem
from playground.common import escape, notice, refresh_targets, target_label, target_problem, \
    targets_picker, usable_hub
from playground.workspace import owned


def answer_cards(answers: dict[str, str]) -> str:
    cards = "".join(f"<div class='pg-card'><div class='pg-card-title'>{escape(target_label(target))}</div>"
                    f"<pre class='pg-card-body'>{escape(answer.strip() or '(no visible text)')}</pre></div>"
                    for target, answer in answers.items())
    return f"<div class='pg-cards'>{cards}</div>"


def run_compare(prompt: str, targets: list[str], max_new_tokens: int, base_model: str | None = None,
                owner: str | None = None):
    """(cards HTML, {target: answer}, message)."""
    from trainers.generate import answer_grid

    prompt = str(prompt or "").strip()
    targets = list(dict.fromkeys(str(t) for t in targets or [])) if isinstance(targets, list) else []
    if not prompt:
        return gr.skip(), gr.skip(), notice("Type a prompt first.")
    if len(prompt) > MAX_CHAT_CHARS:
        return gr.skip(), gr.skip(), notice(f"Prompt too long ({len(prompt):,} characters, limit {MAX_CHAT_CHARS:,}).")
    if not targets:
        return gr.skip(), gr.skip(), notice("Select at least one model to compare.")
    settings, problem = generation_settings(0, 1, max_new_tokens)
    hub = None
    if not problem:
        hub, problem = usable_hub(base_model)
    problem = problem or prompt_problem(hub.base_name, [{"role": "user", "content": prompt}], "")
    if problem:
        return gr.skip(), gr.skip(), notice(problem)
    refused = {t: p for t in targets if (p := target_problem(hub, t, owner))}
    usable = [t for t in targets if t not in refused]
    skipped = " ".join(f"Skipped {t}: {p}" for t, p in refused.items())
    if not usable:
        return gr.skip(), gr.skip(), notice(skipped)
    started = time.perf_counter()
    try:
        grid = answer_grid(hub, usable, [[{"role": "user", "content": prompt}]], settings["max_new_tokens"])
        answers = {target: outs[0] for target, outs in grid.items()}
    except Exception as err:  # keep the tab alive and say what failed
        return gr.skip(), gr.skip(), notice(f"Compare failed: {err.__class__.__name__}: {err}")
    seconds = time.perf_counter() - started
    message = f"{len(usable)} answer(s) in {seconds:.1f} s on base `{hub.base_name}`."
    if skipped:
        message += " " + notice(skipped)
    return answer_cards(answers), answers, message


def create_compare_tab(base_model=None):
    """`base_model` is the Chat tab's base dropdown (the session's resident base); None = the app default."""
    with gr.Tab("Compare", id="compare") as tab:
        gr.Markdown("The same prompt to the base and each stage: the quickest way to see what training changed, "
                    "and what LoRA left alone. Greedy decoding, so differences come from the weights.")
        with gr.Row():
            prompt = gr.Textbox(label="Prompt", lines=3, scale=4, elem_id="compare-prompt",
                                value="Convert 3 km to m.")
            with gr.Column(scale=2):
                max_new = gr.Slider(8, 256, value=48, step=8, label="max new tokens", elem_id="compare-max-new")
                run_btn = gr.Button("Compare", variant="primary", elem_id="compare-run")
        targets = targets_picker("compare-targets")
        message = gr.Markdown(elem_id="compare-message")
        cards = gr.HTML(elem_id="compare-cards")
        with gr.Accordion("Answers as JSON", open=False):
            answers = gr.JSON(label="answers")
    inputs = [prompt, targets, max_new] + ([base_model] if base_model is not None else [])
    run_btn.click(owned(run_compare), inputs, [cards, answers, message], api_name="compare")
    tab.select(owned(refresh_targets), targets, targets, show_progress="hidden")
    return tab

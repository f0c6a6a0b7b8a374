"""Chat tab: one resident base model; talk to it or to any finished run. Adapters are hot-swapped onto the base
(the switch time is measured and shown), full Stage 1/2 checkpoints load beside it. Answers stream token by token;
in public mode the whole prompt and the answer length are capped (trainers/caps.py).
"""

import time

import gradio as gr

from playground import resources
from playground.common import model_targets, notice, target_label, target_problem, usable_hub
from playground.workspace import owned
from trainers.adapters import BASE
from trainers.models import REGISTRY
from trainers.templates import token_ids

MAX_CHAT_CHARS = 4000


def switch_model(base_model: str, target: str, owner: str | None = None) -> str:
    """Make `target` the active model on the resident base and report the measured switch time."""
    from trainers.models import ModelNotFound

    target = target or BASE
    hub, problem = usable_hub(base_model)
    problem = problem or target_problem(hub, target, owner)
    if problem:
        return notice(problem)
    try:
        first_load = hub.model is None
        with hub.lock:
            _, _, ms = hub.activate(target)
    except (ModelNotFound, ValueError, OSError, RuntimeError) as err:
        return notice(f"Cannot load {target}: {err}")
    extra = " (includes loading the base model the first time)" if first_load else ""
    return f"Active: **{target_label(target)}** on base `{hub.base_name}`, switched in **{ms:,.1f} ms**{extra}."


def generation_settings(temperature, top_p, max_new_tokens) -> tuple[dict, str]:
    """The sampling values as numbers within range and the caps, or the first problem in one line."""
    from trainers import caps
    from trainers.validate import form_number

    settings, problems = {}, []
    for name, value, low, whole in (("temperature", temperature, 0, False), ("top_p", top_p, 0, False),
                                    ("max_new_tokens", max_new_tokens, 1, True)):
        settings[name], problem = form_number(name, value, minimum=low, whole=whole)
        problems.append(problem)
    if not any(problems):
        problems.append(caps.refusal("new_tokens", settings["max_new_tokens"]))
        if not 0 < settings["top_p"] <= 1:
            problems.append(f"top_p: must be in (0, 1] (got {settings['top_p']})")
    return settings, next((p for p in problems if p), "")


def conversation(history) -> list[dict]:
    """The user and assistant turns of a history sent by the page or an API client, whatever else it holds."""
    from trainers.generate import message_text

    if not isinstance(history, list):
        return []
    turns = []
    for t in history:
        if isinstance(t, dict) and t.get("role") in ("user", "assistant"):
            turn = {"role": t["role"], "content": message_text(t.get("content"))}
            meta = t.get("metadata")
            if t["role"] == "assistant" and isinstance(meta, dict):  # who wrote the reply stays above it
                turn["metadata"] = {k: meta[k] for k in ("title", "log", "duration")
                                    if isinstance(meta.get(k), (str, int, float))}
            turns.append(turn)
    return turns


def prompt_problem(base_model: str, turns: list[dict], system: str) -> str:
    """The whole rendered prompt (system prompt, history, message) against the prompt cap: one long conversation
    must not hold the shared model for everyone."""
    from trainers import caps
    from trainers.generate import chat_prompt

    cap = caps.limit("prompt_tokens")
    if cap is None:
        return ""
    chars = len(system) + sum(len(t["content"]) for t in turns)
    if chars > 20 * cap:  # far over: say so without tokenizing megabytes
        return caps.refusal("prompt_tokens", chars, f"{chars:,} characters")
    tokenizer = resources.tokenizer_for(base_model)
    tokens = len(token_ids(tokenizer, chat_prompt(tokenizer, turns, system)))
    return caps.refusal("prompt_tokens", tokens)


def chat(message: str, history: list, base_model: str, target: str, system: str, temperature: float, top_p: float,
         max_new_tokens: int, owner: str | None = None):
    """Stream an answer: yields (history, textbox value, status)."""
    from trainers.generate import message_text, stream_chat

    history = conversation(history)
    text = message_text(message).strip()
    system = str(system or "")
    if not text:
        yield history, message, notice("Type a message first.")
        return
    if len(text) > MAX_CHAT_CHARS:
        yield history, message, notice(f"Message too long: {len(text):,} characters, the limit is "
                                       f"{MAX_CHAT_CHARS:,}. Shorten it; your text is still in the box.")
        return
    settings, problem = generation_settings(temperature, top_p, max_new_tokens)
    target = target or BASE
    hub = None
    if not problem:
        hub, problem = usable_hub(base_model)
    problem = problem or target_problem(hub, target, owner)
    turns = history + [{"role": "user", "content": text}]
    problem = problem or prompt_problem(hub.base_name, turns, system)
    if problem:
        yield history, message, notice(problem)
        return
    label = target_label(target)
    yield turns + [reply("…", label, hub.base_name, pending=True)], "", f"{label} is answering…"
    answer, started, stream = "", time.perf_counter(), stream_chat(hub, target, turns, system, **settings)
    try:
        for answer in stream:
            yield turns + [reply(answer, label, hub.base_name, pending=True)], "", f"{label} is answering…"
    except Exception as err:  # a model that cannot load or generate: say so, keep the conversation
        yield history, message, notice(f"{label} could not answer: {err.__class__.__name__}: {err}")
        return
    finally:
        stream.close()  # the page went away or the request was cancelled: the generation stops at its next step
    final = reply(answer.strip() or "(the model produced no text)", label, hub.base_name,
                  seconds=time.perf_counter() - started)
    yield turns + [final], "", f"Answered by **{label}** on `{hub.base_name}`."


def reply(text: str, label: str, base_name: str, pending: bool = False, seconds: float | None = None) -> dict:
    """An assistant message that names the model that wrote it (the title above the bubble), so a conversation
    read later, or shown to a class, never leaves that in doubt. Only role and content reach the model."""
    metadata = {"title": label, "log": f"on {base_name}"}
    if pending:
        metadata["status"] = "pending"
    if seconds is not None:
        metadata["duration"] = round(seconds, 1)
    return {"role": "assistant", "content": text, "metadata": metadata}


def new_conversation(history: list, target: str):
    if not history:
        return gr.skip(), gr.skip()
    return [], f"New conversation with **{target_label(target or BASE)}**: the previous one was another model's."


def chat_targets(owner: str | None = None):
    return gr.update(choices=model_targets(owner))


def create_chat_tab():
    with gr.Tab("Chat", id="chat") as tab:
        with gr.Row():
            base_model = gr.Dropdown(list(REGISTRY), value=resources.default_base(), allow_custom_value=True,
                                     label="Base model (resident)", scale=2, elem_id="chat-base",
                                     info="adapters load onto this base; runs trained on another base are refused")
            target = gr.Dropdown(model_targets(), value=BASE, label="Talk to", scale=3, elem_id="chat-target",
                                 allow_custom_value=True,
                                 info="the base, or any run with a saved adapter or checkpoint")
            refresh_btn = gr.Button("↻ runs", size="sm", scale=0, elem_id="chat-refresh")
        switch_info = gr.Markdown(elem_id="chat-switch")
        chatbot = gr.Chatbot(label="Conversation", height=380, elem_id="chat-bot")
        with gr.Row():
            box = gr.Textbox(placeholder="Ask something… (Enter to send)", show_label=False, scale=5, max_lines=6,
                             elem_id="chat-input")
            send = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
            clear = gr.Button("Clear", scale=0)
        status = gr.Markdown(elem_id="chat-status")
        with gr.Accordion("Generation settings", open=False):
            system = gr.Textbox(label="System prompt", placeholder="optional", lines=2)
            with gr.Row():
                temperature = gr.Slider(0, 1.5, value=0.0, step=0.05, label="temperature",
                                        info="0 = greedy (deterministic)")
                top_p = gr.Slider(0.05, 1.0, value=0.95, step=0.05, label="top-p", info="used when temperature > 0")
                max_new = gr.Slider(8, 512, value=128, step=8, label="max new tokens", elem_id="chat-max-new")
    inputs = [box, chatbot, base_model, target, system, temperature, top_p, max_new]
    send.click(owned(chat), inputs, [chatbot, box, status], api_name="chat")
    box.submit(owned(chat), inputs, [chatbot, box, status], api_visibility="private")
    gr.on([target.input, base_model.input], owned(switch_model), [base_model, target], switch_info,
          api_name="switch_model")
    # a conversation belongs to the model that wrote its answers: another model starts a fresh one
    gr.on([target.input, base_model.input], new_conversation, [chatbot, target], [chatbot, status],
          show_progress="hidden")
    clear.click(lambda: ([], ""), None, [chatbot, status])
    for trigger in (tab.select, refresh_btn.click):
        trigger(owned(chat_targets), None, target, show_progress="hidden")
    return {"tab": tab, "base_model": base_model}

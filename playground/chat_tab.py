"""Chat tab: one resident base model; talk to it or to any finished run. Adapters are hot-swapped onto the base
(the switch time is measured and shown), full Stage 1/2 checkpoints load beside it. Answers stream token by token.
"""

import queue
import threading
import time

import gradio as gr

from playground import resources
from playground.common import model_targets, notice, target_label
from trainers.adapters import BASE, compatibility_problem
from trainers.models import REGISTRY

MAX_CHAT_CHARS = 4000


def stream_in_worker(make_stream):
    """Run a streaming generator in one dedicated thread and relay its items. Gradio advances a sync generator from
    whichever worker thread is free, but `stream_chat` holds the hub's RLock across yields, and an RLock must be
    released by the thread that took it."""
    items: queue.Queue = queue.Queue()

    def work():
        try:
            for item in make_stream():
                items.put(("item", item))
        except Exception as err:  # relayed to the caller
            items.put(("error", err))
        finally:
            items.put(("done", None))

    threading.Thread(target=work, daemon=True, name="chat-stream").start()
    while True:
        kind, value = items.get()
        if kind == "done":
            return
        if kind == "error":
            raise value
        yield value


def switch_model(base_model: str, target: str) -> str:
    """Make `target` the active model on the resident base and report the measured switch time."""
    from trainers.models import ModelNotFound

    target = target or BASE
    hub = resources.get_hub(base_model)
    problem = compatibility_problem(hub, target)
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


def chat(message: str, history: list, base_model: str, target: str, system: str, temperature: float, top_p: float,
         max_new_tokens: int):
    """Stream an answer: yields (history, textbox value, status)."""
    from trainers.generate import message_text, stream_chat

    history = list(history or [])
    text = message_text(message).strip()
    if not text:
        yield history, message, notice("Type a message first.")
        return
    if len(text) > MAX_CHAT_CHARS:
        yield history, message, notice(f"Message too long: {len(text):,} characters, the limit is "
                                       f"{MAX_CHAT_CHARS:,}. Shorten it; your text is still in the box.")
        return
    target = target or BASE
    hub = resources.get_hub(base_model)
    problem = compatibility_problem(hub, target)
    if problem:
        yield history, message, notice(problem)
        return
    turns = history + [{"role": "user", "content": text}]
    label = target_label(target)
    yield turns + [reply("…", label, hub.base_name, pending=True)], "", f"{label} is answering…"
    answer, started = "", time.perf_counter()
    try:
        for answer in stream_in_worker(lambda: stream_chat(hub, target, turns, system or "", float(temperature),
                                                           float(top_p), int(max_new_tokens))):
            yield turns + [reply(answer, label, hub.base_name, pending=True)], "", f"{label} is answering…"
    except Exception as err:  # a model that cannot load or generate: say so, keep the conversation
        yield history, message, notice(f"{label} could not answer: {err.__class__.__name__}: {err}")
        return
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
    send.click(chat, inputs, [chatbot, box, status], api_name="chat")
    box.submit(chat, inputs, [chatbot, box, status], api_visibility="private")
    gr.on([target.input, base_model.input], switch_model, [base_model, target], switch_info,
          api_name="switch_model")
    # a conversation belongs to the model that wrote its answers: another model starts a fresh one
    gr.on([target.input, base_model.input], new_conversation, [chatbot, target], [chatbot, status],
          show_progress="hidden")
    clear.click(lambda: ([], ""), None, [chatbot, status])
    for trigger in (tab.select, refresh_btn.click):
        trigger(lambda: gr.update(choices=model_targets()), None, target, show_progress="hidden")
    return {"tab": tab, "base_model": base_model}

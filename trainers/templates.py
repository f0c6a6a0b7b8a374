"""Prompt templates for instruction tuning, and the one function that renders a row through them.

Stage 2 draws one training template per row (seeded, in trainers/stage2_instruction.py) so the model cannot latch
onto one format; the held-out templates are never used in training, so the evaluation can ask whether the skill
carries over. The `chat` template is the tokenizer's own chat template, which Stage 1 always uses (one fixed format).
"""

CHAT = "chat"

# name -> (template without input, template with input). Every prompt ends on a newline so the completion starts on
# a clean token boundary.
TRAIN_TEMPLATES = {
    CHAT: None,
    "alpaca": ("### Instruction:\n{instruction}\n\n### Response:\n",
               "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"),
    "instruction": ("Instruction: {instruction}\n\nResponse:\n",
                    "Instruction: {instruction}\nInput: {input}\n\nResponse:\n"),
    "qa": ("Question: {instruction}\nAnswer:\n", "Question: {instruction}\n{input}\nAnswer:\n"),
    "task": ("Task: {instruction}\nOutput:\n", "Task: {instruction}\nData: {input}\nOutput:\n"),
    "dialogue": ("User: {instruction}\nAssistant:\n", "User: {instruction}\n{input}\nAssistant:\n"),
}

HELDOUT_TEMPLATES = {
    "prompt_reply": ("PROMPT >> {instruction}\nREPLY >>\n", "PROMPT >> {instruction}\nCONTEXT >> {input}\nREPLY >>\n"),
    "inst_tags": ("[INST] {instruction} [/INST]\n", "[INST] {instruction}\n\n{input} [/INST]\n"),
    "request": ("Request:\n{instruction}\n---\nAnswer:\n",
                "Request:\n{instruction}\n\nDetails:\n{input}\n---\nAnswer:\n"),
}

ALL_TEMPLATES = {**TRAIN_TEMPLATES, **HELDOUT_TEMPLATES}


def token_ids(tokenizer, text: str) -> list[int]:
    """`text`'s ids as TRL tokenizes a string prompt in training: with the tokenizer's own special tokens (Gemma's
    <bos>; none for SmolLM2), so a model is asked at inference exactly as it was trained."""
    return tokenizer(text)["input_ids"]


def without_template_bos(tokenizer, text: str) -> str:
    """A rendered chat without a leading BOS the tokenizer adds anyway: TRL tokenizes the rendered string with the
    tokenizer's special tokens, and a template that writes its own BOS (Gemma's, Llama 3's) would get two."""
    bos = tokenizer.bos_token
    if bos and text.startswith(bos) and tokenizer.bos_token_id in tokenizer("")["input_ids"]:
        return text[len(bos):]
    return text


def render_messages(tokenizer, messages: list[dict]) -> str:
    """Chat messages through the tokenizer's template, ready for the model's answer: the one place a chat is rendered
    (Stage 1 and 4 rows, Chat, Compare, the evaluation)."""
    return without_template_bos(tokenizer, tokenizer.apply_chat_template(messages, tokenize=False,
                                                                          add_generation_prompt=True))


def render_chat(tokenizer, user_text: str, system: str | None = None) -> str:
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user_text}]
    return render_messages(tokenizer, messages)


def render_with_template(name: str, instruction: str, input_text: str = "", tokenizer=None) -> str:
    """The prompt text for one row under one template (the completion follows it directly)."""
    instruction, input_text = instruction.strip(), (input_text or "").strip()
    if name == CHAT:
        return render_chat(tokenizer, f"{instruction}\n\n{input_text}" if input_text else instruction)
    if name not in ALL_TEMPLATES:
        raise KeyError(f"unknown template '{name}'; known: {', '.join(ALL_TEMPLATES)}")
    plain, with_input = ALL_TEMPLATES[name]
    return with_input.format(instruction=instruction, input=input_text) if input_text else plain.format(
        instruction=instruction)


def loss_token_view(tokenizer, prompt: str, completion: str) -> list[tuple[str, bool]]:
    """(token text, carries loss) for prompt + completion, as the trainer masks it: loss on the completion only."""
    prompt_ids, full_ids = token_ids(tokenizer, prompt), token_ids(tokenizer, prompt + completion)
    shared = 0
    while shared < min(len(prompt_ids), len(full_ids)) and prompt_ids[shared] == full_ids[shared]:
        shared += 1
    return [(tokenizer.decode([tid]), i >= shared) for i, tid in enumerate(full_ids)]

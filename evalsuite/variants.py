"""The variants of one task: the one builder behind the Evaluate tab's runner and the Paraphrase test, so their
robustness numbers measure the same thing.

    from evalsuite.variants import build_variants
    build_variants(query.paraphrases, query.input or "")          # a suite query, as the runner asks it
    build_variants(typed_lines, input_text, templates=False)      # the Paraphrase tab with its template box off

Every paraphrase becomes one chat message ("p0", "p1", ...: kind "paraphrase"), which `answer_grid` renders with
each model's own chat template; the first phrasing (the canonical one) is also rendered as plain text through the
training templates other than chat that tell seen formats from held-out ones (`SEEN_TEMPLATES`: kind
"seen_template") and through every held-out template (kind "heldout_template"), as "tpl:<name>". Reports and
`evalsuite.robustness` read these names and kinds.
"""

from trainers.generate import message_text
from trainers.templates import HELDOUT_TEMPLATES, render_with_template

SEEN_TEMPLATES = ("alpaca", "qa")  # training templates other than chat, to tell seen from held-out formats


def user_text(phrasing: str, input_text: str = "") -> str:
    """One phrasing and its input as one user message, exactly as the chat template renders it in training."""
    phrasing, input_text = phrasing.strip(), (input_text or "").strip()
    return f"{phrasing}\n\n{input_text}" if input_text else phrasing


def build_variants(paraphrases: list[str], input_text: str = "", templates: bool = True) -> list[dict]:
    """[{variant, variant_kind, prompt}]: `prompt` is a message list (paraphrases) or rendered text (templates)."""
    variants = [{"variant": f"p{i}", "variant_kind": "paraphrase",
                 "prompt": [{"role": "user", "content": user_text(text, input_text)}]}
                for i, text in enumerate(paraphrases)]
    if templates and paraphrases:
        for kind, names in (("seen_template", SEEN_TEMPLATES), ("heldout_template", tuple(HELDOUT_TEMPLATES))):
            variants += [{"variant": f"tpl:{name}", "variant_kind": kind,
                          "prompt": render_with_template(name, paraphrases[0], input_text or "")} for name in names]
    return variants


def query_variants(query) -> list[dict]:
    """A suite query's variants: all its paraphrases, its canonical phrasing under every template."""
    return build_variants(query.paraphrases, query.input or "")


def prompt_text(prompt) -> str:
    """What a variant asks, for a table cell: the user message, or the rendered template text."""
    return prompt if isinstance(prompt, str) else "\n".join(message_text(m["content"]) for m in prompt)

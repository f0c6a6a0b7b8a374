"""A base model without a chat template gets one in its own turn tokens, and a prompt reaches the model at inference
exactly as TRL tokenized it in training (the tokenizer's own special tokens, one BOS)."""

import pytest

from trainers.generate import chat_prompt, encode
from trainers.models import load_tokenizer
from trainers.templates import render_chat, token_ids


def _base_tokenizer(tiny_path, folder, gemma=False, template=None):
    """The tiny model's tokenizer as a base model would ship it: no chat template (or `template`); `gemma`: with
    Gemma's turn tokens and its own <bos>, which the tokenizer adds to every text."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    tokenizer.chat_template = template
    if gemma:
        tokenizer.add_special_tokens({"bos_token": "<bos>",
                                      "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]})
    tokenizer.save_pretrained(folder)
    if gemma:
        AutoTokenizer.from_pretrained(folder, add_bos_token=True).save_pretrained(folder)
    return load_tokenizer(str(folder))


def test_a_gemma_style_base_gets_a_template_of_its_own_turn_tokens(tiny_path, tmp_path):
    tokenizer = _base_tokenizer(tiny_path, tmp_path, gemma=True)
    text = chat_prompt(tokenizer, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                                   {"role": "user", "content": "Name a color."}], system="Be brief.")
    assert text == ("<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n"
                    "<start_of_turn>user\nName a color.<end_of_turn>\n<start_of_turn>model\n")
    assert tokenizer.eos_token == "<end_of_turn>"  # TRL ends each trained turn with it; generation stops on it
    ids = token_ids(tokenizer, text)
    assert ids.count(tokenizer.convert_tokens_to_ids("<start_of_turn>")) == 4  # one token each, not text pieces
    assert "<|im_start|>" not in text


def test_a_base_with_chatml_tokens_gets_chatml(tiny_path, tmp_path):
    tokenizer = _base_tokenizer(tiny_path, tmp_path)  # the SmolLM2 vocabulary has <|im_start|> / <|im_end|>
    assert render_chat(tokenizer, "Hi") == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.eos_token == "<|im_end|>"


@pytest.mark.parametrize("writes_bos", [False, True])
def test_prompts_are_encoded_at_inference_as_trl_encodes_them_in_training(tiny_path, tmp_path, writes_bos):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    probe = _base_tokenizer(tiny_path, tmp_path / "probe", gemma=True)
    template = "{{ bos_token }}" + probe.chat_template if writes_bos else None  # Gemma's own template writes it
    tokenizer = _base_tokenizer(tiny_path, tmp_path / "tok", gemma=True, template=template)
    bos = tokenizer.convert_tokens_to_ids("<bos>")
    if tokenizer("x")["input_ids"][:1] != [bos]:
        pytest.skip("this transformers version ignores add_bos_token for this tokenizer")
    prompt = render_chat(tokenizer, "Name a color.")
    ids = token_ids(tokenizer, prompt)
    assert ids[0] == bos and ids.count(bos) == 1  # Gemma needs its BOS, once
    args = SFTConfig(output_dir=str(tmp_path / "out"), max_steps=1, report_to=[], completion_only_loss=True,
                     bf16=False, use_cpu=True)
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_path), args=args, processing_class=tokenizer,
                         train_dataset=Dataset.from_list([{"prompt": prompt, "completion": "Blue"}]))
    row = trainer.train_dataset[0]
    prompt_len = next(i for i, label in enumerate(row["labels"]) if label != -100)
    assert row["input_ids"][:prompt_len] == ids  # the prompt TRL trains on
    assert row["input_ids"][-1] == tokenizer.eos_token_id  # the trained turn ends where generation stops
    batch = encode(tokenizer, [prompt, render_chat(tokenizer, "Name two colors, please.")], "cpu")
    assert batch["input_ids"][0][batch["attention_mask"][0].bool()].tolist() == ids  # what generation feeds the model

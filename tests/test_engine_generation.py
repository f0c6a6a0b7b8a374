"""One resident base with adapters switched on it, streamed chat, per-row-adapter batches, and adapters from another
base refused. Two LoRA runs on tiny, trained with a large lr on different answers, make the adapters tell apart."""

import json
import shutil
from contextlib import nullcontext
from pathlib import Path

import pytest

from trainers import runs
from trainers.adapters import BASE, AdapterMismatch, ModelHub
from trainers.generate import chat_prompt, compare, generate_batch, stream_chat

PROMPT = "Say a word for apple."
WORDS = ["apple", "river", "stone", "cloud", "tiger", "piano", "lemon", "ocean"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_path):
    """Two adapters on tiny (answers 'banana' / 'zebra') and one on a narrower random model of the same vocabulary."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from conftest import TINY, train_in_process
    from trainers.config import load_config

    home = tmp_path_factory.mktemp("generation-home")
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    other = home / "narrow-llama"
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                 num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True,
                                 pad_token_id=tokenizer.pad_token_id)).save_pretrained(other)
    tokenizer.save_pretrained(other)

    def lora_run(answer: str, steps: int = 8, **overrides) -> str:
        data = home / f"{answer}.jsonl"
        data.write_text("".join(json.dumps({"prompt": f"Say a word for {w}.", "output": answer}) + "\n"
                                for _ in range(4) for w in WORDS))
        config = load_config("assets/configs/stage3_lora.yaml", {
            **TINY, "dataset": str(data), "learning_rate": 0.1, "max_steps": steps, "per_device_train_batch_size": 4,
            "run_name": answer, **overrides})
        record = train_in_process(config)
        assert record["status"] == "completed", record["error"]
        return record["id"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(home))
        ids = {"a": lora_run("banana"), "b": lora_run("zebra"), "other": lora_run("other", 1, base_model=str(other))}
    return home, ids


@pytest.fixture(autouse=True)
def trained_home(playground_home, monkeypatch, trained):
    home, ids = trained
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    return ids


def greedy(hub: ModelHub, target: str, prompt: str = PROMPT, tokens: int = 12) -> str:
    """One target's greedy answer, generated on its own (no batching), the way the chat tab would."""
    with hub.lock:
        model, tokenizer, _ = hub.activate(target)
        text = chat_prompt(tokenizer, [{"role": "user", "content": prompt}])
        with hub.base_context() if target == BASE else nullcontext():
            return generate_batch(model, tokenizer, [text], max_new_tokens=tokens)[0]


def test_hub_switches_between_two_adapters_on_one_resident_base(trained_home):
    a, b = trained_home["a"], trained_home["b"]
    hub = ModelHub("tiny")
    base_answer = greedy(hub, BASE)
    answer_a = greedy(hub, a)
    resident = hub.model
    answer_b = greedy(hub, b)
    assert hub.model is resident  # the second adapter was added to the same model, not a second copy of the base
    assert set(hub.loaded_adapters) == {a, b} and set(resident.peft_config) == {a, b}
    assert resident.active_adapter == b
    assert len({base_answer, answer_a, answer_b}) == 3, (base_answer, answer_a, answer_b)
    assert answer_a.startswith("ban") and answer_b.startswith(("z", "bra")), (answer_a, answer_b)  # what they learned
    assert greedy(hub, a) == answer_a  # switching back reproduces the first answer
    assert resident.active_adapter == a and set(hub.loaded_adapters) == {a, b}
    assert greedy(hub, BASE) == base_answer  # the bare base is untouched by either adapter


def test_stream_chat_yields_growing_text_that_ends_at_the_greedy_answer(trained_home):
    hub = ModelHub("tiny")
    messages = [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}]  # Gradio 6 content blocks
    for target in (BASE, trained_home["a"]):
        pieces = list(stream_chat(hub, target, messages, max_new_tokens=12))
        assert pieces and pieces[-1] == greedy(hub, target)
        assert all(later.startswith(earlier) and len(later) > len(earlier)
                   for earlier, later in zip(pieces, pieces[1:], strict=False)), pieces
    # The base answers in line breaks, which the streamer flushes token by token: one update per new token.
    assert len(list(stream_chat(hub, BASE, messages, max_new_tokens=12))) >= 6


def test_compare_batched_with_per_row_adapters_matches_one_by_one(trained_home):
    targets = [BASE, trained_home["a"], trained_home["b"]]
    hub = ModelHub("tiny")
    batched = compare(hub, PROMPT, targets, max_new_tokens=12)
    one_by_one = compare(hub, PROMPT, targets, max_new_tokens=12, batched=False)
    assert list(batched) == targets
    assert len(set(batched.values())) == 3  # three different models answered, so the equality below means something
    assert batched == one_by_one
    assert one_by_one == {t: greedy(ModelHub("tiny"), t) for t in targets}


def test_adapter_from_another_base_is_refused_with_a_clear_message(trained_home):
    other = trained_home["other"]
    hub = ModelHub("tiny")
    with pytest.raises(AdapterMismatch, match=r"on base model '.*narrow-llama', but the loaded base is 'tiny'"):
        hub.activate(other)
    folder = runs.read_run(other)["artifact_dir"]
    with pytest.raises(AdapterMismatch, match=r"was trained on '.*narrow-llama', not on 'tiny'"):
        hub.activate(folder)
    assert not hub.loaded_adapters and hub.active == BASE


@pytest.mark.parametrize("loaded_first", [False, True])
def test_misfitting_adapter_leaves_the_resident_model_clean(trained_home, tmp_path, loaded_first):
    # An adapter folder that claims to be for tiny but was trained on the narrow model: its shapes do not fit.
    from trainers.models import resolve_model

    fake = Path(shutil.copytree(runs.read_run(trained_home["other"])["artifact_dir"], tmp_path / "fake"))
    config = json.loads((fake / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = resolve_model("tiny")
    (fake / "adapter_config.json").write_text(json.dumps(config))

    a = trained_home["a"]
    hub = ModelHub("tiny")
    if loaded_first:
        greedy(hub, a)
    with pytest.raises(AdapterMismatch, match=r"does not fit the base 'tiny': size mismatch"):
        hub.activate(str(fake))
    answer_a = greedy(hub, a)
    assert set(hub.model.peft_config) == {a}  # no half-loaded adapter left behind in the model
    assert len([name for name, _ in hub.model.named_modules() if ".lora_A." in name]) == 14  # one adapter's layers
    assert answer_a == greedy(ModelHub("tiny"), a)


def test_stacked_adapters_give_each_row_the_logits_of_its_adapter_alone(trained_home):
    """Each row of a stacked batch gets what its adapter gives when it is the active one (same batch shape); after
    the block the resident model is as it was, with its active adapter applied again."""
    import torch

    from trainers.stacked_lora import stacked_adapters

    a, b = trained_home["a"], trained_home["b"]
    hub = ModelHub("tiny")
    hub.ensure_base()
    text = chat_prompt(hub.tokenizer, [{"role": "user", "content": PROMPT}])
    batch = hub.tokenizer([text] * 3, return_tensors="pt", add_special_tokens=False)
    alone = {}
    with torch.inference_mode():
        for target in (BASE, b, a):
            model, _, _ = hub.activate(target)
            with hub.base_context() if target == BASE else nullcontext():
                alone[target] = model(**batch).logits
        with stacked_adapters(hub.model, [None, a, b]) as stacked:
            rows = hub.model(**batch).logits
        after = hub.model(**batch).logits
    assert stacked
    assert not torch.allclose(alone[a], alone[b], atol=1e-3)  # the adapters differ, so rows can be told apart
    for i, target in enumerate((BASE, a, b)):
        assert torch.allclose(rows[i], alone[target][i], atol=1e-6), target
    assert torch.equal(after, alone[a])  # hooks gone, adapters back on, `a` still the active one

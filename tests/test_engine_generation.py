"""One answering path for every tab: `answer_grid` for all models together gives, row for row, what each model
gives alone, and chat, compare, the paraphrase test and the evaluation runner give exactly that. Also: one resident
base with adapters switched on it, streamed chat, adapters that cannot be stacked falling back to PEFT's per-row
`adapter_names`, and adapters from another base refused. Two LoRA runs on tiny, trained with a large lr on
different answers, make the adapters tell apart; the hub runs in fp32 so batch shape cannot flip a greedy token."""

import json
import shutil
import threading
from contextlib import nullcontext
from pathlib import Path

import pytest

from trainers import runs
from trainers.adapters import BASE, AdapterMismatch, ModelHub
from trainers.generate import answer_grid, chat_prompt, encode, stream_chat

PROMPT = "Say a word for apple."
WORDS = ["apple", "river", "stone", "cloud", "tiger", "piano", "lemon", "ocean"]
# prompts of different lengths, chat messages and a rendered template: chunks mix models and need padding
PROMPTS = [[{"role": "user", "content": PROMPT}], [{"role": "user", "content": "Say a word for a long quiet river."}],
           "Question: Say a word for stone.\nAnswer:\n", [{"role": "user", "content": "Hi"}],
           [{"role": "user", "content": "Say a word for tiger."}]]


def fp32_hub() -> ModelHub:
    return ModelHub("tiny", dtype="fp32")


def alone(hub: ModelHub, target: str, prompts: list = PROMPTS, tokens: int = 12, **kwargs) -> list[str]:
    """One model's answers through answer_grid with no other model in its batches."""
    return answer_grid(hub, [target], prompts, tokens, **kwargs)[target]


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
    """One target's greedy answer from a plain generate call on one prompt: a reference outside answer_grid."""
    from trainers.generate import generate_batch

    with hub.lock:
        model, tokenizer, _ = hub.activate(target)
        text = chat_prompt(tokenizer, [{"role": "user", "content": prompt}])
        with hub.base_context() if target == BASE else nullcontext():
            return generate_batch(model, tokenizer, [text], max_new_tokens=tokens)[0]


@pytest.fixture
def stacking(monkeypatch):
    """Records what every `stacked_adapters` block answered: True (stacked rows) or False (declined)."""
    from trainers import generate

    seen, real = [], generate.stacked_adapters

    def spy(model, rows, adapters=None):
        with real(model, rows, adapters) as stacked:
            seen.append(stacked)
            yield stacked

    from contextlib import contextmanager

    monkeypatch.setattr(generate, "stacked_adapters", contextmanager(spy))
    return seen


def test_hub_switches_between_two_adapters_on_one_resident_base(trained_home):
    a, b = trained_home["a"], trained_home["b"]
    hub = fp32_hub()
    base_answer = greedy(hub, BASE)
    answer_a = greedy(hub, a)
    resident = hub.model
    answer_b = greedy(hub, b)
    assert hub.model is resident  # the second adapter was added to the same model, not a second copy of the base
    assert set(hub.loaded_adapters) == {a, b} and set(resident.peft_config) == {a, b}
    assert resident.active_adapter == b
    assert len({base_answer, answer_a, answer_b}) == 3, (base_answer, answer_a, answer_b)
    assert answer_a.startswith("ban") and answer_b.startswith(("z", "bra")), (answer_a, answer_b)  # what they learned
    assert greedy(hub, a) == answer_a  # switching back (PEFT's set_adapter) reproduces the first answer
    assert resident.active_adapter == a and set(hub.loaded_adapters) == {a, b}
    assert not any(p.requires_grad for p in resident.parameters())  # switched for inference: nothing trainable
    assert greedy(hub, BASE) == base_answer  # the bare base is untouched by either adapter


def test_answer_grid_of_all_models_equals_each_model_alone(trained_home, stacking, monkeypatch):
    from trainers.stacked_lora import RowAdapters

    selected, select = [], RowAdapters.select  # what each batch's re-pointing holds beside the stacked adapters

    def record(self, rows):
        select(self, rows)
        selected.append(sum(mask.numel() * mask.element_size() for mask in self.masks.values()))

    monkeypatch.setattr(RowAdapters, "select", record)
    targets = [BASE, trained_home["a"], trained_home["b"]]
    hub = fp32_hub()
    together = answer_grid(hub, targets, PROMPTS, 12, batch_size=4)  # 15 rows sorted by length: mixed chunks of 4
    assert stacking and all(stacking)  # the mixed chunks ran on stacked LoRA rows
    lora_bytes = sum(p.numel() * p.element_size() for n, p in hub.model.named_parameters() if "lora_" in n)
    # no per-row copy of A and B: an evaluation re-points thousands of rows, nearly every decode step
    assert selected and max(selected) < lora_bytes / 20, (max(selected), lora_bytes)
    stacking.clear()
    each = {t: alone(hub, t) for t in targets}
    assert not stacking  # alone, every chunk holds one model and generates plainly
    assert list(together) == targets and together == each
    assert all(len({each[t][i] for t in targets}) == 3 for i in (0, 1, 4)), each  # the models answer differently
    assert each == {t: alone(hub, t, batch_size=1) for t in targets}  # and one row per generate call: the same
    assert [each[t][0] for t in targets] == [greedy(fp32_hub(), t) for t in targets]


def test_continuous_batching_answers_each_prompt_as_generate_alone_in_fewer_forwards(tiny_path):
    """Rows that finish leave the batch and waiting prompts join the running cache mid-decoding: every answer is
    still the one a plain `generate` call gives that prompt alone, and the decode takes fewer forwards than
    chunks that each run until their longest row ends."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from trainers.continuous import continuous_greedy
    from trainers.generate import generate_batch

    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    torch.manual_seed(0)  # a wide random init says varied tokens (tiny itself only says newlines)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, initializer_range=0.5, pad_token_id=tokenizer.pad_token_id)).eval()
    texts = [chat_prompt(tokenizer, p) if isinstance(p, list) else p for p in PROMPTS * 3]
    said = [model.generate(**encode(tokenizer, [t], model.device), max_new_tokens=12, do_sample=False)[0, -12:]
            for t in texts]
    rows = [row.tolist() for row in said]

    def ends(token):  # where each row would stop if `token` were EOS
        return [row.index(token) + 1 if token in row else 12 for row in rows]

    # Random weights never say EOS; a token they say early in some rows stands in for it, for both paths
    tokenizer.eos_token = tokenizer.convert_ids_to_tokens(min({t for r in rows for t in r},
                                                              key=lambda t: (max(ends(t)) < 12, sum(ends(t)))))
    lengths = ends(tokenizer.eos_token_id)
    assert min(lengths) <= 4 and max(lengths) == 12, lengths  # some rows end early, others run on
    reference = [generate_batch(model, tokenizer, [t], max_new_tokens=12)[0] for t in texts]
    forwards, batches = [], []
    handle = model.register_forward_hook(lambda _m, _a, _o: forwards.append(1))
    try:
        got = continuous_greedy(model, tokenizer, texts, 12, batch_rows=4, on_rows=batches.append)
    finally:
        handle.remove()
    assert got == reference
    assert any(set(b) - set(a) and set(a) & set(b) for a, b in zip(batches, batches[1:], strict=False)), \
        batches  # a waiting prompt joined rows that were already decoding
    chunked = sum(max(lengths[i:i + 4]) for i in range(0, len(texts), 4))
    assert len(forwards) < chunked, (len(forwards), chunked)


def test_answer_grid_reports_progress_per_chunk_and_stops_when_progress_raises(trained_home):
    hub = fp32_hub()
    calls = []
    answer_grid(hub, [BASE, trained_home["a"]], PROMPTS, 4, batch_size=4, progress=calls.append)
    assert calls == [4, 4, 2]  # 10 rows in chunks of at most 4

    class Cancelled(Exception):
        pass

    def cancel(n):
        calls.append(n)
        raise Cancelled

    calls.clear()
    with pytest.raises(Cancelled):
        answer_grid(hub, [BASE, trained_home["a"]], PROMPTS, 4, batch_size=4, progress=cancel)
    assert calls == [4]  # no chunk generated after the cancel
    free = []
    worker = threading.Thread(target=lambda: free.append(hub.lock.acquire(timeout=5) and hub.lock.release() is None))
    worker.start()
    worker.join()
    assert free == [True]  # the hub lock was released


def test_stream_chat_yields_growing_text_that_ends_at_the_answer_grid_answer(trained_home):
    hub = fp32_hub()
    messages = [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}]  # Gradio 6 content blocks
    for target in (BASE, trained_home["a"], trained_home["b"]):
        for system in ("", "Answer with one word."):
            pieces = list(stream_chat(hub, target, messages, system=system, max_new_tokens=12))
            assert pieces and pieces[-1] == alone(hub, target, [messages], system=system)[0], (target, system)
            assert all(later.startswith(earlier) and len(later) > len(earlier)
                       for earlier, later in zip(pieces, pieces[1:], strict=False)), pieces
    # The base answers in line breaks, which the streamer flushes token by token: one update per new token.
    assert len(list(stream_chat(hub, BASE, messages, max_new_tokens=12))) >= 6


def test_compare_and_paraphrase_tabs_answer_as_answer_grid_alone(trained_home, monkeypatch):
    from evalsuite.variants import build_variants
    from playground.common import target_label
    from playground import resources
    from playground.compare_tab import run_compare
    from playground.paraphrase_tab import paraphrase_test

    targets = [BASE, trained_home["a"], trained_home["b"]]
    hub = fp32_hub()
    monkeypatch.setattr(resources, "get_hub", lambda base_model=None: hub)
    _, answers, _ = run_compare(PROMPT, targets, 12)
    expected = {t: alone(hub, t, [[{"role": "user", "content": PROMPT}]])[0] for t in targets}
    assert answers == expected and len(set(expected.values())) == 3

    lines = ["Say a word for apple.", "Give me a word for apple.", "Apple: one word?"]
    two = targets[:2]  # 8 variants x 2 models: one batch, answered inline by the resident model
    grid, _, table, _, job_id = paraphrase_test("\n".join(lines), "", "", "", True, two, 12)
    assert job_id == ""
    variants = build_variants(lines)
    assert [row[0] for row in grid["value"]] == [v["variant"] for v in variants]
    assert [v["variant"] for v in variants] == ["p0", "p1", "p2", "tpl:alpaca", "tpl:qa", "tpl:prompt_reply",
                                                "tpl:inst_tags", "tpl:request"]
    for column, target in enumerate(two, start=3):
        cells = [row[column][2:] for row in grid["value"]]  # "✓ answer" / "✗ answer"
        assert cells == [a.strip() or "(no text)" for a in alone(hub, target, [v["prompt"] for v in variants])]
    assert [row[0] for row in table] == [target_label(t) for t in two]  # rows name models as people read them


def test_a_paraphrase_grid_larger_than_a_batch_runs_as_a_job_and_answers_the_same(trained_home):
    from playground.common import target_label
    from playground.paraphrase_tab import follow_grid, paraphrase_test
    from trainers.job_queue import QUEUE

    targets = [BASE, trained_home["a"], trained_home["b"]]
    lines = ["Say a word for apple.", "Give me a word for apple.", "Apple: one word?"]
    *_, message, job_id = paraphrase_test("\n".join(lines), "", "", "", True, targets, 12, "tiny")
    assert job_id and "queued as job" in message
    assert QUEUE.wait(job_id, 300)["status"] == "completed"
    _, grid, _, table, _, shown = follow_grid(job_id, None)
    assert shown == job_id and [row[0] for row in table] == [target_label(t) for t in targets]
    # the worker answered through answer_grid with the app's default model settings, batch for batch
    from evalsuite.variants import build_variants

    expected = answer_grid(ModelHub("tiny"), targets, [v["prompt"] for v in build_variants(lines)], 12)
    for column, target in enumerate(targets, start=3):
        assert [row[column][2:] for row in grid["value"]] == [a.strip() or "(no text)" for a in expected[target]]
    import gradio as gr

    assert follow_grid(job_id, job_id)[1] == gr.skip() != grid  # drawn once: the next tick leaves it alone


def test_evaluation_runner_answers_as_answer_grid_alone(trained_home):
    from evalsuite.runner import planned_generations, run_eval
    from evalsuite.suite import load_suite, select_queries
    from evalsuite.variants import query_variants

    targets = [BASE, trained_home["a"], trained_home["b"]]
    hub = fp32_hub()
    calls = []
    report = run_eval(targets, None, base_model="tiny", limit=6, hub=hub, max_new_tokens=6, use_cache=False,
                      progress=calls.append)
    prompts = [v["prompt"] for q in select_queries(load_suite(), 6) for v in query_variants(q)]
    assert sum(calls) == report["meta"]["generated"] == planned_generations(3, 6) == 3 * len(prompts)
    for target in targets:
        answers = [r["answer"] for r in report["results"] if r["model"] == target]
        assert answers == [a.strip() for a in alone(hub, target, prompts, 6)], target
    by_prompt = list(zip(*[[r["answer"] for r in report["results"] if r["model"] == t] for t in targets], strict=True))
    assert any(len(set(row)) > 1 for row in by_prompt)  # the models answer differently somewhere


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
    logits = {}
    with torch.inference_mode():
        for target in (BASE, b, a):
            model, _, _ = hub.activate(target)
            with hub.base_context() if target == BASE else nullcontext():
                logits[target] = model(**batch).logits
        with stacked_adapters(hub.model, [None, a, b]) as stacked:
            rows = hub.model(**batch).logits
        after = hub.model(**batch).logits
    assert stacked
    assert not torch.allclose(logits[a], logits[b], atol=1e-3)  # the adapters differ, so rows can be told apart
    for i, target in enumerate((BASE, a, b)):
        assert torch.allclose(rows[i], logits[target][i], atol=1e-6), target
    assert torch.equal(after, logits[a])  # hooks gone, adapters back on, `a` still the active one


# Adapters that carry more than LoRA A/B: stacking would drop that part, so stacked_adapters declines them. PEFT's
# adapter_names mixes lora_bias rows; DoRA and saved modules it cannot mix, so each model's rows of a chunk go alone.
EXTRAS = {"lora_bias": {"lora_bias": True}, "dora": {"use_dora": True},
          "modules_to_save": {"modules_to_save": ["lm_head"]}}


@pytest.fixture(scope="module")
def extra_adapters(trained, tiny_path):
    """{kind: adapter folder} built with PEFT on tiny, everything initialised at random so each changes answers."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    home, _ = trained
    folders = {}
    for seed, (kind, extra) in enumerate(EXTRAS.items()):
        torch.manual_seed(seed)
        base = AutoModelForCausalLM.from_pretrained(tiny_path, dtype=torch.float32)
        model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                                                init_lora_weights=False, **extra))  # B random, not zero
        with torch.no_grad():
            for name, param in model.named_parameters():
                if ("lora_B" in name and name.endswith("bias")) or "modules_to_save" in name:
                    param.add_(torch.randn_like(param) * 0.5)  # the part stacking would leave out must matter
        folders[kind] = str(home / f"extra_{kind}")
        model.save_pretrained(folders[kind])
    return folders


@pytest.mark.parametrize("kind", list(EXTRAS))
def test_adapters_that_cannot_be_stacked_answer_in_mixed_batches_as_alone(trained_home, extra_adapters, stacking,
                                                                         kind):
    from trainers.stacked_lora import stacked_adapters

    special = extra_adapters[kind]
    targets = [BASE, trained_home["a"], special]
    hub = fp32_hub()
    together = answer_grid(hub, targets, PROMPTS, 12, batch_size=4)
    assert stacking and not any(stacking)  # every mixed chunk held the special adapter: PEFT's adapter_names ran
    each = {t: alone(hub, t) for t in targets}
    assert together == each
    assert each[special] != each[BASE] and each[special] != each[trained_home["a"]]
    with stacked_adapters(hub.model, [None, special]) as stacked:
        assert not stacked
    with stacked_adapters(hub.model, [None, trained_home["a"]]) as stacked:
        assert stacked  # the plain adapter next to it still stacks

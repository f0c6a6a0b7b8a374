"""Requests that become jobs, as the app makes them: each checks what it can at once (so a refusal comes back in
the same second with its reason) and queues the rest.

    run_id, job = submit_training(config)            # preflight, a queued run, a queued job
    job = submit_resume(run_id)                      # continue an interrupted / failed / cancelled run
    job = submit_eval(["base", run_id], out_dir)     # the evaluation suite
    job = submit_export(run_id)                      # merge a LoRA into its base
    job = submit_answers(models, prompts, base)      # a large answer grid (the paraphrase test)
    job = submit_pairs("base", "grpo_prompts", name="my_pairs")   # DPO pairs from a model's own answers

`evalsuite.reproduce.submit_reproduce` queues the reproduce job (its phases: `reproduce_phases`) the same way.
"""

from pathlib import Path

from trainers import jobs, runs
from trainers.config import TrainConfig, to_dict


def _queue(queue):
    from trainers.job_queue import QUEUE

    return queue or QUEUE


def submit_training(config: TrainConfig, owner: str = "local", queue=None) -> tuple[str, dict]:
    from trainers.training import create_training_run

    run_id = create_training_run(config, owner=owner)
    job = _queue(queue).submit("train", [jobs.phase(f"train {config.stage}/{config.method}", "train",
                                                    config=to_dict(config), run_id=run_id)],
                               owner=owner, title=f"train {run_id}", run_ids=[run_id])
    return run_id, job


def submit_resume(run_id: str, owner: str = "local", queue=None) -> dict:
    from trainers import caps
    from trainers.config import build_config

    record = runs.read_run(run_id)
    if record["status"] not in ("interrupted", "failed", "cancelled"):
        raise ValueError(f"run {run_id} is {record['status']}; only interrupted, failed or cancelled runs resume")
    refused = caps.training_problems(build_config(runs.read_config(run_id)))  # caps may have changed since
    if refused:
        raise caps.CapExceeded("; ".join(refused))
    return _queue(queue).submit("train", [jobs.phase(f"resume {run_id}", "train", run_id=run_id)], owner=owner,
                                title=f"resume {run_id}", run_ids=[run_id])


def submit_eval(models: list[str], out_dir, base_model: str = "embedded", limit: int | None = None,
                include_code: bool = False, max_new_tokens: int = 64, owner: str = "local", queue=None) -> dict:
    check_eval_caps(limit, max_new_tokens)
    phase = jobs.phase("evaluate", "eval", models=list(models), out_dir=str(out_dir), base_model=base_model,
                       limit=limit, include_code=bool(include_code), max_new_tokens=int(max_new_tokens))
    return _queue(queue).submit("eval", [phase], owner=owner, title=f"evaluate {', '.join(models)}")


def check_eval_caps(limit: int | None, max_new_tokens: int) -> None:
    """An evaluation's size against the caps; no limit means the whole suite."""
    from evalsuite.suite import load_suite
    from trainers import caps

    queries = limit or len(load_suite())
    refused = caps.refusal("eval_queries", queries) or caps.refusal("new_tokens", max_new_tokens)
    if refused:
        raise caps.CapExceeded(refused)


def check_phases(phases: list[dict]) -> None:
    """A multi-phase job (reproduce, lesson) refused up front, as its trainings and evaluation would be alone."""
    from trainers import caps
    from trainers.config import build_config

    labels = set()  # of the train phases so far: what a later one's init_from_phase may name
    for phase in phases:
        start = phase["spec"].get("init_from_phase")
        if phase["kind"] == "train" and start and start not in labels:
            raise ValueError(f"init_from_phase: '{start}' is not the label of an earlier training phase of this job")
        if phase["kind"] == "train":
            labels.add(phase["spec"].get("label"))
        if phase["kind"] == "train" and phase["spec"].get("config"):
            # with a stand-in for the run it will start from, so a stage that cannot start from one is refused now
            config = build_config({**phase["spec"]["config"], **({"init_from": f"<run of {start}>"} if start else {})})
            problems = config.validate()
            if problems:
                raise ValueError("invalid config: " + "; ".join(problems))
            refused = caps.training_problems(config)
            if refused:
                raise caps.CapExceeded("; ".join(refused))
        elif phase["kind"] == "eval":
            check_eval_caps(phase["spec"].get("limit"), phase["spec"].get("max_new_tokens", 64))


def submit_export(run_id: str, owner: str = "local", queue=None) -> dict:
    record = runs.read_run(run_id)
    if record.get("method") not in ("lora", "qlora") or not record.get("artifact_dir"):
        raise ValueError(f"run {run_id} has no LoRA adapter to merge (method {record.get('method')}, "
                         f"status {record['status']})")
    return _queue(queue).submit("export", [jobs.phase(f"export {run_id}", "export", run_id=run_id)], owner=owner,
                                title=f"export {run_id}")


def submit_answers(models: list[str], prompts: list, base_model: str, max_new_tokens: int = 64, view=None,
                   owner: str = "local", queue=None) -> dict:
    """`view` is what the tab needs to draw the result later (its variants, the query): kept in the job record."""
    phase = jobs.phase("answer", "answers", models=list(models), prompts=list(prompts), base_model=base_model,
                       max_new_tokens=int(max_new_tokens), view=view or {})
    return _queue(queue).submit("answers", [phase], owner=owner,
                                title=f"{len(prompts)} prompts x {len(models)} model(s)")


def pairs_phase(target: str, prompts: str, samples: int = 4, temperature: float = 1.0, max_new_tokens: int = 64,
                name: str | None = None, out: str | None = None, pairs_per_prompt: int = 1, limit: int = 0,
                base_model: str | None = None, owner: str = "local") -> dict:
    """The `pairs` phase for a request, refused up front (ValueError, one line naming the field) when a setting,
    the model, the prompt set, a cap or the name is wrong. `name` saves a dataset in the owner's workspace; `out`
    (the CLI) writes that file instead. `base_model` is the base for target "base" (default: the embedded model)."""
    from trainers import caps
    from trainers.adapters import BASE
    from trainers.data import DatasetError
    from trainers.names import check_model_name, dataset_reference, visible_run
    from trainers.pairs import check_settings, load_prompt_rows

    problem = check_settings(samples, temperature, max_new_tokens, pairs_per_prompt)
    if problem:
        raise ValueError(problem)
    if (name is None) == (out is None):
        raise ValueError("pairs: give either a dataset name to save under or an output file")
    if name is not None:
        check_pairs_name(name, owner)
    else:  # absolute: the file is written by whichever process runs the phase, from its own working directory
        out = str(Path(out).resolve())
        if not Path(out).parent.is_dir():
            raise ValueError(f"out: the folder {Path(out).parent} does not exist")
    if target == BASE:
        base = check_model_name(base_model or "embedded", "base model")
    else:
        run = visible_run(target, owner, "model")
        if run["status"] != "completed":
            raise ValueError(f"model: run {target} is {run['status']}; pairs come from a completed run")
        base = run["base_model"]
    reference = dataset_reference(prompts, owner, "prompts")
    try:
        rows = load_prompt_rows(reference)[: limit or None]
    except (ValueError, OSError) as err:
        lines = str(err).splitlines() or [err.__class__.__name__]
        first = lines[1] if isinstance(err, DatasetError) and len(lines) > 1 else lines[0]  # DatasetError: a header
        raise ValueError(f"prompts: '{prompts}' is not a set of prompts with a check ({{prompt, check}} rows): "
                         f"{first}") from None
    answers = len(rows) * samples
    refused = caps.refusal("new_tokens", max_new_tokens) or caps.refusal("rows", len(rows)) or caps.refusal(
        "sampled_answers", answers, f"{len(rows):,} prompts x {samples} samples = {answers:,}")
    if refused:
        raise caps.CapExceeded(refused)
    return jobs.phase("pairs", "pairs", target=target, base_model=base, prompts=reference, n_prompts=len(rows),
                      limit=limit or 0, samples=int(samples), temperature=float(temperature),
                      max_new_tokens=int(max_new_tokens), pairs_per_prompt=int(pairs_per_prompt), save_as=name,
                      out=out)


def check_pairs_name(name: str, owner: str) -> None:
    """A dataset name this workspace may save pairs under: the project's name rules, not a starter's name (a saved
    dataset would hide behind it), and not one another of its jobs is still building. Its own saved dataset of that
    name is replaced when the job ends, as the Data tab's Save replaces it; another workspace's is never touched
    (each saves in its own folder, trainers.names.saved_folder)."""
    from trainers.names import SAVED_NAME, starters

    if not SAVED_NAME.fullmatch(name or ""):
        raise ValueError(f"name: '{name}' is not a dataset name (letters, digits, '-', '_' or '.', starting with a "
                         "letter or digit, at most 64 characters)")
    if name in starters():
        raise ValueError(f"name: '{name}' belongs to a starter dataset; pick another name")
    for record in jobs.list_jobs(owner):
        if record["kind"] == "pairs" and record["status"] in ("queued", "running") and any(
                p["spec"].get("save_as") == name for p in record.get("phases") or []):
            raise ValueError(f"name: job {record['id']} is already building '{name}'; wait for it or pick another "
                             "name")


def submit_pairs(target: str, prompts: str, samples: int = 4, temperature: float = 1.0, max_new_tokens: int = 64,
                 name: str = "", base_model: str | None = None, pairs_per_prompt: int = 1, limit: int = 0,
                 owner: str = "local", queue=None) -> dict:
    """Queue preference pairs from `target`'s own answers (a run id or "base"), saved as dataset `name`."""
    phase = pairs_phase(target, prompts, samples, temperature, max_new_tokens, name=name,
                        pairs_per_prompt=pairs_per_prompt, limit=limit, base_model=base_model, owner=owner)
    return _queue(queue).submit("pairs", [phase], owner=owner, title=f"pairs from {target} -> {name}")

"""Requests that become jobs, as the app makes them: each checks what it can at once (so a refusal comes back in
the same second with its reason) and queues the rest.

    run_id, job = submit_training(config)            # preflight, a queued run, a queued job
    job = submit_resume(run_id)                      # continue an interrupted / failed / cancelled run
    job = submit_eval(["base", run_id], out_dir)     # the evaluation suite
    job = submit_export(run_id)                      # merge a LoRA into its base
    job = submit_answers(models, prompts, base)      # a large answer grid (the paraphrase test)

`evalsuite.reproduce.submit_reproduce` queues the reproduce job (its phases: `reproduce_phases`) the same way.
"""

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

"""Everything checked before a job is queued, as one-line problems (`field: problem (got value)`), the same lines
for `python -m trainers train`, `python -m trainers validate` and every submit path of the app.

    problems = check_config(config)                    # values, then what needs the model's config (cheap)
    problems = check_dataset_file(path, "stage1")      # what `train` will refuse in these rows, by line
    steps, problem = form_number("steps", "12", minimum=0)
"""

from trainers.config import TrainConfig
from trainers.data import Problem


def _model_problems(config: TrainConfig) -> list[str]:
    """Target modules and max_length against the model itself, from its config alone (built on the meta device)."""
    from trainers.estimate import linear_module_names, model_context
    from trainers.models import ModelNotFound
    from trainers.sft_core import base_for

    field = "init_from" if config.init_from else "base_model"
    try:
        path = base_for(config)  # ModelNotFound is its own one sentence, as the CLI has always said it
        names, context = linear_module_names(path), model_context(path)
    except ModelNotFound:
        raise
    except (ValueError, KeyError) as err:
        text = str(err).splitlines()[0]
        return [text if text.startswith(f"{field}:") else f"{field}: {text}"]
    except OSError:  # a run id that is not a run: the message would name a server path
        return [f"{field}: '{config.init_from or config.base_model}' could not be read"]
    problems = []
    if config.method != "full" and config.target_modules != ["all-linear"]:
        unknown = [t for t in config.target_modules if not any(n == t or n.endswith("." + t) for n in names)]
        if unknown:
            leaves = sorted({n.rsplit(".", 1)[-1] for n in names})
            problems.append(f"target_modules: {', '.join(unknown)} not found in the model (it has "
                            f"{', '.join(leaves)}, or use all-linear)")
    if context and config.max_length > context:
        problems.append(f"max_length: must be <= {context:,}, the model's context (got {config.max_length:,})")
    return problems


def check_config(config: TrainConfig, with_model: bool = True) -> list[str]:
    """Every problem with the values; with `with_model`, also what the model's config says about them."""
    problems = config.validate()
    if not problems and with_model:
        problems = _model_problems(config)
    return problems


def form_number(name: str, value, minimum: float | None = None, whole: bool = True):
    """(number, "") or (None, one-line problem) for a value typed into a form or sent through the API."""
    from trainers.config import real_number, whole_number

    if value is None or value == "":
        return None, f"{name}: a number is required"
    try:
        number = whole_number(name, value) if whole else real_number(name, value)
    except ValueError as err:
        return None, str(err)
    if minimum is not None and number < minimum:
        return None, f"{name}: must be >= {minimum:g} (got {number})"
    return number, ""


STAGE_OF_FORMAT = {"stage1": "stage1", "stage2": "stage2"}  # preference rows train in no SFT stage


def check_dataset_file(path, fmt: str, model: str = "embedded", max_length: int | None = None) -> list[Problem]:
    """What `train` checks in these rows: shape, then length once rendered by the stage that trains this format,
    with its default config (max_length TrainConfig's unless given; 0 skips the length check)."""
    from trainers.data import load_rows, validate_rows
    from trainers.models import load_tokenizer
    from trainers.sft_core import check_rendered_length

    max_length = TrainConfig.max_length if max_length is None else max_length
    rows = load_rows(path)
    tokenizer = load_tokenizer(model) if max_length else None
    problems = validate_rows(rows, fmt, tokenizer, max_length or None)
    if not max_length or fmt not in STAGE_OF_FORMAT or any(p.level == "error" for p in problems):
        return problems
    from trainers.data import DatasetError
    from trainers.stages import STAGE_MODULES

    stage = STAGE_OF_FORMAT[fmt]
    config = TrainConfig(stage=stage, base_model=model, max_length=max_length, data_format=fmt)
    examples = STAGE_MODULES[stage].render_rows([r.data for r in rows], fmt, tokenizer, config)
    try:
        check_rendered_length(examples, [r.line for r in rows], tokenizer, max_length, str(path))
    except DatasetError as err:
        problems += err.problems
    return sorted(problems, key=lambda p: p.line)

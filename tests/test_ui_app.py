"""The app in a real browser: `python app.py` on the tiny model, driven by Playwright in headless Chromium.

    HF_HUB_OFFLINE=1 python -m pytest tests/test_ui_app.py -m browser

Each test stands alone and can run in any order: a test that needs a trained run asks for the `lora_run` fixture,
which trains one through the app's own API (start_training) the first time. Long work runs as jobs, so the tests
wait for a job's progress and result on the page, not for a request to return. Bad inputs are checked where they
happen. Every test leaves a screenshot of its tab in test-artifacts/.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import running_app, start_training, wait_for_job

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync"]
STEPS = 8
LONG = 180_000  # ms: training and generation on a shared 2-core CPU


@pytest.fixture(scope="session")
def ui_model_cache(request, tmp_path_factory) -> str:
    """PLAYGROUND_CACHE with the tiny model built once (it needs the embedded tokenizer: ~30 s the first time).
    The suite's shared `model_cache` (tests/conftest.py) when there is one, so all tests convert only once."""
    try:
        cache = str(request.getfixturevalue("model_cache"))
    except pytest.FixtureLookupError:
        cache = os.environ.get("PLAYGROUND_CACHE") or str(tmp_path_factory.mktemp("ui-model-cache"))
    env = {**os.environ, "PLAYGROUND_CACHE": cache, "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-c", "from trainers.models import resolve_model; resolve_model('tiny')"],
                   cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return cache


@pytest.fixture(scope="module")
def app(ui_model_cache, tmp_path_factory):
    """`python app.py` on a free port with its own PLAYGROUND_HOME: (url, home) once the page answers 200."""
    pytest.importorskip("playwright")
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh --dev installs it)")
    with running_app(tmp_path_factory.mktemp("ui-home"), ui_model_cache) as (url, home):
        yield url, home


@pytest.fixture(scope="module")
def app_url(app) -> str:
    return app[0]


@pytest.fixture(scope="module")
def lora_run(app) -> str:
    """A completed LoRA run labelled `ui-lora`, trained through the app's API the first time a test asks for it."""
    from gradio_client import Client

    url, home = app
    _, job_id = start_training(Client(url, verbose=False), "stage3_lora", "tiny", max_steps=STEPS,
                               per_device_train_batch_size=4, max_length=128, save_steps=0, run_name="ui-lora")
    record = wait_for_job(home, job_id)
    assert record["status"] == "completed", record["error"]
    return record["run_ids"][0]


@pytest.fixture(scope="module")
def browser(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=BROWSER_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url, request):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.locator("#header-status").wait_for()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    page.close()


# -- helpers: Gradio 6 widgets by elem_id --------------------------------------------------------------------------

def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def fill(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} textarea, #{elem_id} input:not([type=checkbox]):not([type=file])").first
    box.fill(str(value))
    box.press("Tab")  # commit the value (Gradio reads Number/Textbox on blur)


def choose(page, elem_id: str, option: str) -> None:
    """Pick a dropdown option by (part of) its label; reopens the list if new choices re-rendered it."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.locator(f"#{elem_id} input").first
    options = page.locator(f"#{elem_id} [role=option]", has_text=option)
    for _ in range(3):
        box.scroll_into_view_if_needed()  # the list is placed from the input's position when it opens
        if box.get_attribute("aria-expanded") != "true":
            box.click()
        try:
            options.first.click(timeout=5_000)
            if box.get_attribute("aria-expanded") == "true":
                page.keyboard.press("Escape")  # a multiselect stays open and would cover the buttons below it
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            page.mouse.wheel(0, 300)
    raise AssertionError(f"no option '{option}' in #{elem_id}")


def expect_text(page, elem_id: str, text: str, timeout: int = 30_000) -> None:
    from playwright.sync_api import expect

    expect(page.locator(f"#{elem_id}")).to_contain_text(text, timeout=timeout)


def expect_value(page, elem_id: str, text: str, timeout: int = 30_000) -> None:
    """For a textarea, whose text is its value, not its content."""
    from playwright.sync_api import expect

    expect(page.locator(f"#{elem_id} textarea")).to_have_value(re.compile(re.escape(text)), timeout=timeout)


def plot_points(page, elem_id: str) -> int:
    return page.locator(f"#{elem_id} .scatterlayer .points path").count()


# -- the tests ----------------------------------------------------------------------------------------------------

def test_data_tab_builds_and_saves_a_dataset(page, tmp_path):
    from playwright.sync_api import expect

    open_tab(page, "Data")
    page.locator("#data-load").click()
    expect_text(page, "data-summary", "rows valid")
    expect_text(page, "data-preview", "instruction")
    # delete the first row, edit the second, add one; the report stays clean
    fill(page, "edit-line", 1)
    page.locator("#edit-delete").click()
    expect_text(page, "data-message", "Deleted line 1")
    fill(page, "edit-line", 2)
    page.get_by_role("button", name="Load row into editor").click()
    expect(page.locator("#edit-field-0 textarea")).not_to_have_value("")  # the row arrived in the editor
    fill(page, "edit-field-2", "an edited response")
    page.locator("#edit-update").click()
    expect_text(page, "data-message", "Updated line 2")
    fill(page, "edit-field-0", "Name the color of a clear daytime sky.")
    fill(page, "edit-field-1", "")
    fill(page, "edit-field-2", "blue")
    page.locator("#edit-add").click()
    expect_text(page, "data-message", "Added line")
    expect_text(page, "data-summary", "rows valid")
    # one row under every template with its loss tokens
    page.get_by_text("One row under every template").click()
    page.locator("#tpl-show").click()
    expect_text(page, "tpl-note", "green tokens carry the loss")
    expect_text(page, "tpl-view", "prompt_reply (held-out template)")
    expect_text(page, "tpl-view", "alpaca (training template)")
    fill(page, "save-name", "ui_set")
    page.locator("#save-btn").click()
    expect_text(page, "data-message", "Saved")

    # bad input 1: an empty upload; bad input 2: a "Parquet" file that is really text
    empty, fake = tmp_path / "empty.jsonl", tmp_path / "fake.parquet"
    empty.write_text("")
    fake.write_text('{"prompt": "not parquet at all", "output": "x"}\n')
    page.locator("#data-upload input[type=file]").set_input_files(str(empty))
    expect_text(page, "data-message", "has no rows")
    page.locator("#data-upload button[aria-label='Clear']").first.click()
    page.locator("#data-upload input[type=file]").set_input_files(str(fake))
    expect_text(page, "data-report", "not a readable Parquet file")
    expect_text(page, "data-message", "Could not read fake.parquet")
    expect_text(page, "data-summary", "error")


def test_train_tab_queues_runs_and_shows_progress(page, browser, app_url):
    steps = 40  # long enough to still run while the second start is queued and cancelled
    open_tab(page, "Train")
    page.get_by_label("3 · LoRA (adapters)").check()
    expect_text(page, "train-estimate", "trainable parameters", timeout=LONG)
    # the stage's preset lands in the fields (all at once, with the LoRA row shown) before they are edited, else it
    # would overwrite the edits
    from playwright.sync_api import expect

    expect(page.locator("#train-lora_r")).to_be_visible(timeout=LONG)
    for name, value in (("max_steps", steps), ("per_device_train_batch_size", 4), ("max_length", 128),
                        ("save_steps", 0)):
        fill(page, f"train-{name}", value)
    # bad input 3: out-of-range hyperparameters are refused with the field named
    fill(page, "train-learning_rate", 0)
    fill(page, "train-lora_r", 0)
    page.locator("#train-start").click()
    expect_text(page, "train-message", "learning_rate: must be > 0")
    expect_text(page, "train-message", "lora_r: must be >= 1")
    fill(page, "train-learning_rate", 0.001)
    fill(page, "train-lora_r", 8)
    page.get_by_text("Show the code").click()
    expect_text(page, "train-cli", f"max_steps={steps}")

    page.locator("#train-start").click()
    expect_text(page, "train-message", "(job ", timeout=LONG)
    first_job = page.locator("#train-job textarea, #train-job input").first.input_value()
    # a second start while one runs waits in the queue (one job at a time) and can be cancelled before it starts
    page.locator("#train-start").click()
    expect_text(page, "train-message", "queued behind 1 job(s)", timeout=LONG)
    page.locator("#jobs-panel").get_by_text("Jobs: what is running").click()
    expect_text(page, "jobs-table", "1 in line", timeout=30_000)
    page.locator("#train-cancel").click()
    expect_text(page, "train-message", "before it started")
    expect_text(page, "header-status", "train", timeout=30_000)  # the header names the running job

    # the page goes back to the running training; a second browser tab (or a refresh) re-attaches to it too
    expect_text(page, "train-progress", "running", timeout=LONG)
    run_id = page.locator("#train-progress code").first.inner_text()
    other = browser.new_page()
    other.goto(app_url)
    open_tab(other, "Train")
    expect_text(other, "train-progress", run_id, timeout=LONG)
    other.close()

    # the chart gains points while the run trains, and the run completes
    page.wait_for_function("document.querySelectorAll('#train-plot .scatterlayer .points path').length > 0",
                           timeout=LONG)
    first = plot_points(page, "train-plot")
    expect_text(page, "train-progress", "completed", timeout=LONG)
    expect_value(page, "train-log", f"step {steps:>4}")
    page.wait_for_function(f"document.querySelectorAll('#train-plot .scatterlayer .points path').length >= "
                           f"{3 * steps}", timeout=30_000)  # 3 subplots x steps points
    assert plot_points(page, "train-plot") > first or first >= 3 * steps
    assert first_job in page.locator("#jobs-table").inner_text()


def test_train_tab_runs_grpo_and_shows_rewards_and_sampled_completions(page):
    from playwright.sync_api import expect

    open_tab(page, "Train")
    page.get_by_label("4 · GRPO (rewards from checks)").check()
    expect(page.locator("#train-reward_funcs")).to_be_visible(timeout=LONG)  # the preset landed with its fields
    expect(page.locator("#train-lora_r")).to_be_visible()
    expect(page.locator("#train-randomize_templates")).to_be_hidden()  # GRPO renders no templates
    expect(page.locator("#train-dataset input").first).to_have_value(re.compile("grpo_prompts"))
    for name, value in (("max_steps", 2), ("per_device_train_batch_size", 4), ("num_generations", 2),
                        ("max_completion_length", 6), ("max_length", 128), ("logging_steps", 1), ("save_steps", 0)):
        fill(page, f"train-{name}", value)
    fill(page, "train-reward_weights", "1, oops")
    page.locator("#train-start").click()
    expect_text(page, "train-message", "reward_weights:")
    fill(page, "train-reward_weights", "1, 0.5, 0.2")
    page.locator("#train-start").click()
    expect_text(page, "train-message", "(job ", timeout=LONG)
    expect_text(page, "train-progress", "completed", timeout=LONG)
    expect_text(page, "train-plot", "mean reward")
    expect(page.locator("#train-samples")).to_be_visible(timeout=30_000)
    expect_text(page, "train-samples", "completion")
    expect_value(page, "train-log", "reward")


def test_train_tab_rejects_unknown_model(page):
    open_tab(page, "Train")
    page.locator("#train-base input").first.fill("nobody/no-such-model")
    page.locator("#train-base input").first.press("Enter")
    page.locator("#train-start").click()
    expect_text(page, "train-message", "no-such-model", timeout=LONG)
    expect_text(page, "train-message", "offline")


def test_chat_streams_from_the_adapter_and_switches(page, lora_run):
    open_tab(page, "Chat")
    page.locator("#chat-refresh").click()
    choose(page, "chat-target", "ui-lora")
    expect_text(page, "chat-switch", "switched in", timeout=LONG)
    expect_text(page, "chat-switch", "ui-lora")
    fill(page, "chat-input", "Name the color of a clear daytime sky.")
    page.locator("#chat-send").click()
    expect_text(page, "chat-status", "Answered by", timeout=LONG)
    assert page.locator("#chat-bot .message-row, #chat-bot [data-testid=bot]").count() >= 1
    # switch to the base and back: both report a measured switch time, and another model starts a fresh chat
    choose(page, "chat-target", "base model")
    expect_text(page, "chat-switch", "Active: base", timeout=LONG)
    expect_text(page, "chat-status", "New conversation with")
    assert page.locator("#chat-bot .message-row, #chat-bot [data-testid=bot]").count() == 0
    choose(page, "chat-target", "ui-lora")
    expect_text(page, "chat-switch", "ui-lora")
    expect_text(page, "chat-switch", " ms")
    # bad input 5: an over-long message is refused and kept in the box
    long_text = "word " * 900
    fill(page, "chat-input", long_text)
    page.locator("#chat-send").click()
    expect_text(page, "chat-status", "too long")
    assert len(page.locator("#chat-input textarea").input_value()) > 4000
    # bad input 6: an adapter trained on another base model
    page.locator("#chat-base input").first.fill("embedded")
    page.locator("#chat-base input").first.press("Enter")
    expect_text(page, "chat-switch", "trained on base model 'tiny'", timeout=LONG)


def test_compare_shows_base_and_adapter_side_by_side(page, app_url, lora_run):
    open_tab(page, "Compare")
    choose(page, "compare-targets", "ui-lora")
    page.locator("#compare-run").click()
    expect_text(page, "compare-message", "2 answer(s)", timeout=LONG)
    assert page.locator("#compare-cards .pg-card").count() == 2
    # the same action from a program: a run is accepted by name
    from gradio_client import Client

    _, answers, message = Client(app_url, verbose=False).predict("Say hi.", ["base", lora_run], 8, "tiny",
                                                                  api_name="/compare")
    assert set(answers) == {"base", lora_run}, message


def test_paraphrase_test_grid_heatmap_and_metrics(page, lora_run):
    from playwright.sync_api import expect

    open_tab(page, "Paraphrase test")
    choose(page, "para-targets", "ui-lora")
    fill(page, "para-max-new", 8)
    page.locator("#para-run").click()  # the typed phrasings, scored against each model's majority answer
    expect_text(page, "para-message", "phrasings × 2 model(s)", timeout=LONG)
    expect_text(page, "para-message", "majority")
    choose(page, "para-query", "fact-jupiter")  # a task from the evaluation suite, scored by its own check
    expect(page.locator("#para-phrasings textarea")).to_have_value(re.compile("largest planet"))
    expect(page.locator("#para-expected input, #para-expected textarea").first).to_have_value("Jupiter")
    page.locator("#para-run").click()  # 9 phrasings x 2 models: more than one batch, so it runs as a job
    expect_text(page, "para-message", "queued as job", timeout=LONG)
    expect_text(page, "para-progress", "completed", timeout=LONG)
    expect_text(page, "para-message", "suite's check for fact-jupiter", timeout=LONG)
    expect_text(page, "para-grid", "tpl:inst_tags")  # a held-out template
    expect_text(page, "para-robustness", "base")
    page.locator("#para-heatmap .heatmaplayer .hm").first.wait_for()  # plotly drew the heatmap


def test_runs_tab_lists_measurements_and_exports(page, app, lora_run):
    open_tab(page, "Runs")
    expect_text(page, "runs-table", "completed")
    expect_text(page, "runs-efficiency", "LoRA")
    choose(page, "runs-pick", "ui-lora")
    page.locator("#runs-export").click()
    expect_text(page, "runs-message", "Export queued", timeout=LONG)
    page.locator("#jobs-panel").get_by_text("Jobs: what is running").click()
    expect_text(page, "jobs-table", "export", timeout=30_000)
    home = app[1]
    deadline = time.time() + LONG / 1000
    while not (home / "runs" / lora_run / "merged" / "config.json").is_file():
        assert time.time() < deadline, "the export job did not write the merged model"
        time.sleep(0.5)


def test_evaluate_tab_runs_the_suite_as_a_job(page):
    open_tab(page, "Evaluate")
    fill(page, "eval-limit", 6)
    page.locator("#eval-run").click()
    expect_text(page, "eval-message", "queued as job", timeout=30_000)
    expect_text(page, "eval-progress", "completed", timeout=LONG)
    expect_text(page, "eval-examples", "base", timeout=30_000)
    expect_text(page, "eval-message", "Evaluated base on")  # the queued message gives way to the result
    # a refresh re-attaches: the report is still there
    page.reload()
    page.locator("#header-status").wait_for()
    open_tab(page, "Evaluate")
    expect_text(page, "eval-progress", "completed", timeout=30_000)


def test_reproduce_shows_its_phases_and_the_claims(page):
    open_tab(page, "Evaluate")
    page.get_by_text("Reproduce settings").click()
    fill(page, "repro-steps", 1)
    fill(page, "repro-limit", 6)
    page.locator("#eval-repro").click()
    expect_text(page, "eval-message", "7 phases (5 trainings", timeout=30_000)
    expect_text(page, "repro-phases", "train stage1", timeout=60_000)  # every phase listed while it runs
    expect_text(page, "repro-progress", "(", timeout=60_000)  # "train stage1 (1/7)"-style phase counter
    expect_text(page, "repro-progress", "completed", timeout=3 * LONG)
    expect_text(page, "eval-claims", "Loss decreases smoothly", timeout=30_000)
    expect_text(page, "eval-message", "Reproduce done in")


def test_lesson_prepares_the_class_preset_and_retrains_a_stage_live(page):
    open_tab(page, "Lesson")
    page.get_by_text("Preset settings").click()
    fill(page, "lesson-steps", 1)
    fill(page, "lesson-limit", 6)
    page.locator("#lesson-prepare").click()
    expect_text(page, "lesson-message", "Preparing the lesson as job", timeout=30_000)
    expect_text(page, "lesson-phases", "train lora", timeout=60_000)  # the class preset: three stages
    expect_text(page, "lesson-progress", "completed", timeout=3 * LONG)
    for step in (1, 2, 3):  # every step shows what was measured, with a verdict
        expect_text(page, f"lesson-result-{step}", "Measured on the prepared runs", timeout=30_000)
    expect_text(page, "lesson-result-1", "Loss decreases smoothly")
    page.get_by_label("lora").check()
    page.locator("#lesson-live").click()
    expect_text(page, "lesson-live-message", "Retraining lora live", timeout=30_000)
    expect_text(page, "lesson-live-progress", "completed", timeout=LONG)
    open_tab(page, "Train")  # the live run's loss curve is the Train tab's
    expect_text(page, "train-progress", "live-lora", timeout=30_000)


def test_cancel_resume_and_delete_a_run(page):
    from playwright.sync_api import expect

    open_tab(page, "Train")
    page.get_by_label("3 · LoRA (adapters)").check()
    expect_text(page, "train-estimate", "trainable parameters", timeout=LONG)
    for name, value in (("max_steps", 500), ("per_device_train_batch_size", 2), ("max_length", 128),
                        ("save_steps", 0), ("run_name", "cancel-me")):
        fill(page, f"train-{name}", value)
    page.locator("#train-start").click()
    expect_text(page, "train-message", "(job ", timeout=LONG)
    expect_text(page, "train-progress", "cancel-me", timeout=LONG)
    expect_text(page, "train-progress", "running", timeout=LONG)
    # a reload re-attaches, and the form shows the run being watched, not the Stage 1 defaults
    page.reload()
    page.locator("#header-status").wait_for()
    open_tab(page, "Train")
    expect_text(page, "train-progress", "cancel-me", timeout=LONG)
    expect(page.get_by_label("3 · LoRA (adapters)")).to_be_checked()
    expect(page.locator("#train-run_name input, #train-run_name textarea").first).to_have_value("cancel-me")
    expect(page.locator("#train-max_steps input").first).to_have_value("500")
    page.locator("#train-cancel").click()
    expect_text(page, "train-message", "Cancelling")
    expect_text(page, "train-progress", "cancelled", timeout=LONG)

    open_tab(page, "Runs")
    choose(page, "runs-pick", "cancel-me")
    page.locator("#runs-resume").click()
    expect_text(page, "runs-message", "trains again from step 0", timeout=LONG)  # no checkpoint: it says so
    page.locator("#runs-resume").click()  # bad input again: the run already belongs to a job
    expect_text(page, "runs-message", "already belongs to a queued or running job")
    open_tab(page, "Train")  # the Train tab follows the resumed job by itself
    expect_text(page, "train-progress", "running", timeout=LONG)
    page.locator("#train-cancel").click()
    expect_text(page, "train-progress", "cancelled", timeout=LONG)

    open_tab(page, "Runs")
    page.locator("#runs-refresh").click()
    expect_text(page, "runs-table", "cancelled")
    choose(page, "runs-pick", "cancel-me")
    page.locator("#runs-delete").click()
    page.locator("#runs-confirm").click()
    expect_text(page, "runs-message", "Deleted")

"""python -m bench [--quick] [--only training,switch,compare,chat,gen,eval,app,lesson,stage4]

Measures every figure side by side in one run on the embedded model (CPU here, GPU unchanged) and prints JSON
lines. Runs go to $PLAYGROUND_HOME (default ./outputs). --quick uses fewer steps and a slice of the suite.
"""

import argparse

from bench.common import emit, machine

PARTS = ("training", "switch", "compare", "chat", "gen", "eval", "app", "lesson", "stage4")


def main() -> None:
    from trainers.malloc import keep_freed_memory
    from trainers.quiet import quiet_libraries

    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="fewer steps and a slice of the eval suite")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts: " + ",".join(PARTS))
    parser.add_argument("--base-model", default="embedded")
    args = parser.parse_args()
    quiet_libraries()
    keep_freed_memory()  # as in a job process, where the evaluation's answers are generated
    parts = set(args.only.split(","))
    emit("machine", 1, "info", **machine())
    if "app" in parts:
        from bench.app_start import bench_app_start

        bench_app_start()
    if "lesson" in parts:
        from bench.lesson import bench_lesson

        bench_lesson(args.base_model)
    if "stage4" in parts:
        from bench.stage4 import bench_stage4

        bench_stage4(steps=4 if args.quick else 10, base_model=args.base_model)
    adapters = []
    if "training" in parts or parts & {"switch", "compare", "eval"}:
        from bench.training import bench_training

        records = bench_training(steps=6 if args.quick else 20, base_model=args.base_model)
        adapters = [records["lora"]["id"], records["qlora"]["id"]]
    if not parts & {"switch", "compare", "chat", "gen", "eval"}:
        return
    from bench import inference
    from trainers.adapters import ModelHub

    hub = ModelHub(args.base_model)
    hub.ensure_base()
    if "chat" in parts:
        inference.bench_chat(hub)
    if "gen" in parts:
        inference.bench_generation(hub)
    if "switch" in parts:
        inference.bench_switch(hub, adapters)
    targets = ["base", *adapters, adapters[0]] if adapters else ["base"]
    if "compare" in parts:
        # three stages on one base: the two trained adapters and the first again under a second name
        _alias_adapter(hub, adapters[0])
        # an open question, so every stage answers at length: a batch lasts as long as its longest answer, and
        # next to one long answer, three 5-token ones gain little from sharing it (measured: 1.3x)
        inference.bench_compare(hub, ["base", *adapters, "alias"], "Explain in three sentences why the sky is blue.")
    if "eval" in parts:
        inference.bench_eval(hub, targets[:4], limit=12 if args.quick else None)


def _alias_adapter(hub, run_id: str) -> None:
    from trainers.adapters import describe_target

    if "alias" not in hub.loaded_adapters:
        hub.model.load_adapter(describe_target(run_id)["dir"], adapter_name="alias")
        hub.loaded_adapters["alias"] = ("", 0.0)


if __name__ == "__main__":
    main()

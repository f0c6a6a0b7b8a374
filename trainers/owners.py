"""Who may see and change a run, a job or a saved dataset: in local mode everyone (one user); in public mode a
workspace sees its own records and the shared read-only examples, and changes only its own.

    may_see(runs.read_run(run_id), owner)      # list it, follow it, chat with it, train on top of it
    may_change(jobs.read_job(job_id), owner)   # cancel, resume, delete, overwrite

`owner` is the workspace id the app derives from the request (playground/workspace.py), "cli" for the command line.
"""

from trainers.mode import public_mode

EXAMPLE = "example"  # `python -m trainers train ... --example`: a run every workspace may see and use


def may_see(record: dict, owner: str | None) -> bool:
    return not public_mode() or is_example(record) or may_change(record, owner)


def may_change(record: dict, owner: str | None) -> bool:
    """A record without an owner (made before owners were recorded) belongs to no visitor."""
    return not public_mode() or (owner is not None and record.get("owner") == owner)


def is_example(record: dict) -> bool:
    return record.get("owner") == EXAMPLE

"""Which mode the app runs in: `local` (one user on their own machine: everything visible, server paths allowed) or
`public` (a Hugging Face Space, or anyone on the internet: per-browser workspaces, caps, model-written code only
inside the kernel sandbox).

    from trainers.mode import mode, public_mode
    PLAYGROUND_MODE=public python app.py      # or run on a Space (SPACE_ID is set there)

`PLAYGROUND_MODE` set to `local` or `public` decides; unset, a Space is public and anything else local. Any other
value counts as public: a typo must not open a public deployment up.
"""

import os

MODES = ("local", "public")


def mode() -> str:
    chosen = os.environ.get("PLAYGROUND_MODE", "").strip().lower()
    if chosen:
        return chosen if chosen in MODES else "public"
    return "public" if os.environ.get("SPACE_ID") else "local"


def public_mode() -> bool:
    return mode() == "public"

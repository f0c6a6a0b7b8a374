"""Which mode the app runs in: `local` (one user, everything visible, server paths allowed) or `public` (a hosted
Space: per-browser workspaces, names instead of paths, server-side caps).

    from trainers.mode import public_mode
    public_mode()      # True when PLAYGROUND_MODE=public or a Hugging Face Space is detected (SPACE_ID)

PLAYGROUND_MODE=local wins over the Space detection, for an operator who runs a private Space for one person.
"""

import os


def public_mode() -> bool:
    mode = os.environ.get("PLAYGROUND_MODE", "").strip().lower()
    if mode == "local":
        return False
    return mode == "public" or bool(os.environ.get("SPACE_ID"))

"""Workspaces: who is asking, so that in public mode a visitor sees and changes only their own runs, datasets and
jobs (trainers/owners.py decides what an owner may do; this module finds the owner of a request).

    btn.click(owned(start_training), inputs, outputs)    # start_training(..., owner=<the request's workspace>)

The owner of a request, in public mode:
- the Hugging Face login (`request.username`) where the Space has one;
- else the browser's workspace: a random id kept in the browser (gr.BrowserState, so a refresh or a second tab
  keeps it), signed by the server so a client cannot claim another's; the page's load event tells the server which
  workspace this page's session belongs to;
- else (an API client such as gradio_client, which loads no page) its session: each client has its own.
In local mode every request is the one local user.
"""

import hashlib
import hmac
import inspect
import os
import secrets
import threading
from collections import OrderedDict

import gradio as gr

from trainers.mode import public_mode

LOCAL = "local"
MAX_SESSIONS = 50_000  # remembered page sessions; the oldest are forgotten (their page re-registers on reload)

_sessions: OrderedDict = OrderedDict()  # session hash -> workspace id: the server's side of the browser's token
_lock = threading.Lock()
_secret: bytes | None = None


def _key() -> bytes:
    """The signing key: $PLAYGROUND_SECRET, else one made once and kept in $PLAYGROUND_HOME, so tokens (and so
    workspaces) survive a restart on persistent storage."""
    global _secret
    if _secret is None:
        from trainers.paths import home

        env = os.environ.get("PLAYGROUND_SECRET", "")
        path = home() / ".workspace-secret"
        if env:
            _secret = env.encode()
        elif path.is_file():
            _secret = path.read_bytes()
        else:
            _secret = secrets.token_bytes(32)
            path.touch(mode=0o600)
            path.write_bytes(_secret)
    return _secret


def _sign(workspace: str) -> str:
    return hmac.new(_key(), workspace.encode(), hashlib.sha256).hexdigest()[:32]


def new_token() -> str:
    workspace = "w-" + secrets.token_hex(12)
    return f"{workspace}.{_sign(workspace)}"


def workspace_of_token(token) -> str | None:
    """The workspace a browser's token names, if the server signed it."""
    if not isinstance(token, str) or token.count(".") != 1:
        return None
    workspace, signature = token.split(".")
    return workspace if workspace.startswith("w-") and hmac.compare_digest(signature, _sign(workspace)) else None


def _session_owner(session_hash: str) -> str:
    """An API client's workspace: derived from its session hash (never shown, so the id does not reveal it)."""
    return "s-" + hmac.new(_key(), session_hash.encode(), hashlib.sha256).hexdigest()[:24]


def owner_of(request: gr.Request | None) -> str:
    if not public_mode():
        return LOCAL
    username = getattr(request, "username", None) if request is not None else None
    if username:
        return "u-" + "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in str(username))[:60]
    session = getattr(request, "session_hash", None) if request is not None else None
    if not session:
        return "anonymous"  # no session, no workspace: sees only what everyone sees
    with _lock:
        workspace = _sessions.get(session)
    return workspace or _session_owner(session)


def claim_workspace(token, request: gr.Request):
    """Page load: keep the browser's workspace (or give it a new one) and bind this page's session to it. Returns the
    token for the browser to keep."""
    if not public_mode():
        return token
    workspace = workspace_of_token(token)
    if workspace is None:
        token = new_token()
        workspace = workspace_of_token(token)
    session = getattr(request, "session_hash", None)
    if session:
        with _lock:
            _sessions[session] = workspace
            _sessions.move_to_end(session)
            while len(_sessions) > MAX_SESSIONS:
                _sessions.popitem(last=False)
    return token


def create_workspace(demo: gr.Blocks):
    """The browser's token and the load event that binds the page to its workspace; later load events chain on the
    returned dependency, so they run as the workspace's owner."""
    # BrowserState encrypts in the browser with a key the page receives; a fixed one (derived, one-way, from the
    # signing key) lets a browser read its token back after the app restarts
    browser_key = hmac.new(_key(), b"browser-state", hashlib.sha256).hexdigest()[:32] if public_mode() else None
    token = gr.BrowserState(None, storage_key="playground-workspace", secret=browser_key)
    return demo.load(claim_workspace, token, token, show_progress="hidden")


def owned(fn):
    """`fn` called with `owner=` the request's workspace. Gradio passes the request to a parameter annotated
    gr.Request, so the wrapper keeps fn's inputs unchanged (and its API signature) and adds only that."""
    if inspect.isgeneratorfunction(fn):
        def wrapper(request: gr.Request, *args):
            yield from fn(*args, owner=owner_of(request))
    else:
        def wrapper(request: gr.Request, *args):
            return fn(*args, owner=owner_of(request))
    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__  # not functools.wraps: Gradio must see `request`
    return wrapper

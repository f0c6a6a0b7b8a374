"""Run a model's Python function against a query's assert-tests in a kernel-confined process.

    from evalsuite.sandbox import extract_code, run_code_tests, sandbox_status, code_refusal
    code = extract_code(model_answer, "add")          # strips ``` fences and prose around the code
    r = run_code_tests(code, "add", ["assert add(2, 3) == 5"], timeout_s=5, memory_mb=256)
    r.passed, r.total, r.ok, r.reason, r.stdout, r.isolation
    sandbox_status()    # what this kernel offers: Landlock ABI, seccomp, uid drop; "full" when all of it
    code_refusal()      # None, or why code is not run here (public mode without the full sandbox)

The child (evalsuite/sandbox_child.py, stdlib only) is a fresh `python -I -S -B`: no inherited file descriptors but
the events file, stdin from /dev/null, stdout/stderr to a size-capped file, a scrubbed environment (PATH, LANG,
HOME/TMPDIR = its directory: no tokens), a fresh temporary working directory, its own session. Before the model's
code exists in it, it confines itself (the layers are listed in its docstring): rlimits; no_new_privs; Landlock
(read and write only beneath its directory, read-only on the interpreter's sys.path, shared-library dirs and a few
device files; no TCP; signals scoped); as root, uid/gid 65534 with no groups; a seccomp filter against sockets,
exec, new processes and threads, signals, ptrace, namespaces, mounts, file mode/owner changes, IPC, io_uring and
other processes' settings. Each layer the kernel offers (found once by `sandbox_status()`'s probe) is required: if
it fails to apply, the code is not run. At the wall-clock timeout, and after every run, the process group is killed
while the leader is still unreaped, so no pid can have been reused and nothing is left behind.

Why a result cannot be forged. The model's code runs in the same process as the code that reports on it, so
everything in that process, this harness included, is the model's to rewrite: it can print anything, write anything
to the events fd, patch builtins, exit early. So the parent never asks the child whether a test passed. It parses
each test itself: `assert A <op> B` sends the child only the non-literal sides (`add(2, 3)`), never the expected
literal (`5`); the child sends back each value as plain data (built-in types, exact, no subclasses: anything else
arrives as "opaque", equal to nothing), and the parent applies `<op>` to the decoded values. A pass therefore needs
the correct values on the channel, and the code never learns what they are, so producing them is computing them: the
same as correct code. A nonce would not help (it would live in memory the code can read), and exit codes and "done"
lines only feed the reason text. With Landlock the code can't read the answer key either (the suite, this parent's
memory, /proc). Tests run one by one and report as they finish, so a hang in test 3 still credits 1-2. What a
child's claim still decides: `assert A` (a truthy value; for an opaque value, its `__bool__`), a bare expression or
any other statement ("ran without raising"). Returning something truthy, or not raising, is as easy honestly as by
forging; a test that hides its expected value inside a statement (`x = f(2); assert x == 6`) would be forgeable, so
the suite has none (a test checks). Test values must be plain data: a correct function that returns a Fraction where
a float is expected fails here, and so does one that starts a thread.

What it does not protect against:
- without the kernel features (older kernel, another OS, a container that blocks the syscalls) only the layers that
  applied hold; `sandbox_status()` says which, and public mode (trainers.mode) then refuses to run code at all;
- the seccomp filter is a deny-list: a syscall it does not name is allowed (Landlock and the uid still apply);
- the kernel itself: a kernel bug reachable from the allowed syscalls is an escape;
- disk space: within its time limit the code can write many files of up to 1 MB each in its own directory;
- reading: the Python standard library directory (site-packages inside it included) and the shared libraries are
  readable; nothing secret should live there. Landlock governs opening files, not looking at paths: the code can
  still stat any path (existence, size, times) and read where a symlink points;
- CPU and memory of the machine are limited per run (CPU seconds, address space), not shared fairly with the app.
"""

import ast
import functools
import json
import operator
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from evalsuite.sandbox_child import SANDBOX_GID, SANDBOX_UID, SETUP_FAILED

MAX_OUTPUT_CHARS = 4000
FILE_LIMIT_BYTES = 1 << 20
MAX_EVENT_CHARS = 1 << 16
CHILD = Path(__file__).with_name("sandbox_child.py")
OPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
       ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
       ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}


@dataclass
class SandboxResult:
    passed: int  # tests that passed
    total: int  # tests given
    ok: bool  # all tests passed
    reason: str  # readable summary: what passed, what failed and why, timeouts, limits hit
    stdout: str  # the code's stdout + stderr, truncated to MAX_OUTPUT_CHARS
    isolation: str = ""  # the layers the run was confined by ("" when the code was not run)


def extract_code(answer: str, function_name: str | None = None) -> str:
    """The Python code in a model answer: fenced blocks if any (the one defining the function), else the text
    from the first `def`/`import` line on, trimmed from the end until it compiles (drops trailing prose)."""
    blocks = re.findall(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|$)", answer, re.DOTALL | re.IGNORECASE)
    if blocks:
        wanted = [b for b in blocks if function_name and re.search(rf"def\s+{function_name}\s*\(", b)]
        return (wanted[0] if wanted else "\n".join(blocks)).strip("\n")
    lines = answer.strip().splitlines()
    start = next((i for i, ln in enumerate(lines) if re.match(r"(def|import|from|class|@)\b|\w+\s*=", ln)), None)
    if start is None:
        return answer
    lines = lines[start:]
    for end in range(len(lines), 0, -1):
        code = "\n".join(lines[:end])
        try:
            compile(code, "solution.py", "exec")
            return code
        except SyntaxError:
            continue
    return "\n".join(lines)


# ---- what the kernel offers -------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def sandbox_status() -> dict:
    """Probe once (a confined child with no model code, ~50 ms) what this machine applies and what it then denies.
    Keys: landlock_abi (0 = none), seccomp (bool), uid_drop ("uid 65534" | "not needed: ..." | "no: ..."), full (every
    layer applied and checked), problems (why not full), summary (one line for the UI)."""
    with tempfile.TemporaryDirectory(prefix="evalsuite-probe-", ignore_cleanup_errors=True) as tmp:
        events, returncode, _, _ = _run_child(Path(tmp), {"probe": True, "require": {}}, timeout_s=10)
    layers = next((e for e in events if e["event"] == "layers"), None)
    probe = next((e for e in events if e["event"] == "probe"), None)
    if layers is None or probe is None:
        why = f"the sandbox probe failed (exit code {returncode})"
        return {"landlock_abi": 0, "seccomp": False, "uid_drop": "no", "full": False, "problems": [why],
                "summary": why}
    errors, problems = layers.get("errors", {}), []
    abi = int(layers["landlock"]) if probe["filesystem"] else 0
    if not abi:
        problems.append(errors.get("landlock") or "Landlock applied but did not deny reading /")
    seccomp = bool(layers["seccomp"]) and probe["socket"]
    if not seccomp:
        problems.append(f"no seccomp filter: {errors.get('seccomp') or 'applied but sockets still open'}")
    if layers["uid_drop"]:
        uid_drop = f"uid {layers['uid']}"
    elif os.geteuid() != 0:
        uid_drop = f"not needed: runs as uid {os.geteuid()}, not root"
    else:
        uid_drop = f"no: {errors.get('uid_drop', 'still root')}"
        problems.append(errors.get("uid_drop", "runs as root"))
    if probe["root"]:
        problems.append("the code would run as root")
    parts = [f"Landlock ABI {abi}" if abi else "no Landlock", "seccomp" if seccomp else "no seccomp",
             uid_drop if layers["uid_drop"] else ("as root" if os.geteuid() == 0 else f"uid {os.geteuid()}")]
    return {"landlock_abi": abi, "seccomp": seccomp, "uid_drop": uid_drop, "full": not problems,
            "problems": problems, "summary": ", ".join(parts)}


def code_refusal() -> str | None:
    """Why model-written code is not executed here, or None. Public mode runs code only inside the full sandbox;
    local mode runs it with whatever layers the kernel offers (the Evaluate tab shows which)."""
    from trainers.mode import public_mode

    status = sandbox_status()
    if not public_mode() or status["full"]:
        return None
    return "code not executed: " + "; ".join(status["problems"])


# ---- one run ----------------------------------------------------------------------------------------------------

def _scrubbed_env(home: str) -> dict:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": home,
            "TMPDIR": home}


def _required(status: dict) -> dict:
    """Every layer the probe saw working must apply again, or the child refuses to load the code."""
    return {"landlock": status["landlock_abi"] > 0, "seccomp": status["seccomp"],
            "uid_drop": status["uid_drop"].startswith("uid ")}


def _wait_then_kill_group(proc: subprocess.Popen, timeout_s: float) -> bool:
    """Wait for the child without reaping it, then SIGKILL its process group: while the leader is an unreaped
    zombie its pid (the group id) cannot be reused, so the kill reaches only what the child left. True if timed out."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # no pidfd (old kernel / Python): a tiny reuse window remains
        try:
            proc.wait(timeout=timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        _killpg(proc.pid)
        proc.wait()
        return timed_out
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        timed_out = not poller.poll(max(0, int(timeout_s * 1000)))
        _killpg(proc.pid)
    finally:
        os.close(pidfd)
    proc.wait()
    return timed_out


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _run_child(tmp: Path, cfg: dict, timeout_s: float, memory_mb: int = 256) -> tuple[list, int, bool, str]:
    """Start sandbox_child.py on `cfg` in a fresh directory under `tmp`: (events, return code, timed out, output)."""
    work, io_dir = tmp / "work", tmp / "io"
    work.mkdir()
    io_dir.mkdir(mode=0o700)
    if os.geteuid() == 0:  # the child becomes nobody: it must own its directory and be able to reach it
        try:
            os.chown(work, SANDBOX_UID, SANDBOX_GID)
            os.chmod(tmp, 0o711)
        except OSError:
            pass  # uid 65534 unmapped (a user namespace): the child's drop fails too, and says so
    out_path, events_path = io_dir / "output.txt", io_dir / "events.jsonl"
    # stdout/stderr go to a file (never a pipe we must drain); events go to a second file passed as an fd.
    with open(out_path, "wb") as out, open(events_path, "wb") as events_file:
        cfg = {**cfg, "memory_mb": int(memory_mb), "cpu_s": int(timeout_s) + 1, "fsize": FILE_LIMIT_BYTES,
               "events_fd": events_file.fileno()}
        (io_dir / "config.json").write_text(json.dumps(cfg))
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", str(CHILD), str(io_dir / "config.json")],
            cwd=work, env=_scrubbed_env(str(work)), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            close_fds=True, pass_fds=(events_file.fileno(),), start_new_session=True,
        )
        timed_out = _wait_then_kill_group(proc, timeout_s)
    events = _read_events(events_path)
    with open(out_path, "rb") as f:
        output = f.read(MAX_OUTPUT_CHARS).decode("utf-8", "replace")
    return events, proc.returncode, timed_out, output


def _read_events(path: Path) -> list[dict]:
    events = []
    with open(path, "rb") as f:
        data = f.read(FILE_LIMIT_BYTES)
    for line in data.decode("utf-8", "replace").splitlines():
        if len(line) > MAX_EVENT_CHARS:
            continue
        try:
            e = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(e, dict) and isinstance(e.get("event"), str):
            events.append(e)
    return events


# ---- tests: planned and judged by the parent --------------------------------------------------------------------

def plan_test(test: str) -> dict:
    """How the parent judges one test. {"kind": "compare", "op", "sides": [("expr", src) | ("literal", value)]} for
    `assert A <op> B` (values compared here); {"kind": "truth", "expr"} for `assert A`; {"kind": "runs", "stmt"} for
    anything else (passes if it runs without raising: the child's word)."""
    try:
        body = ast.parse(test).body
    except SyntaxError:
        return {"kind": "runs", "stmt": test}
    node = body[0] if len(body) == 1 else None
    if isinstance(node, ast.Assert):
        cond = node.test
        if isinstance(cond, ast.Compare) and len(cond.ops) == 1 and type(cond.ops[0]) in OPS:
            sides = [_side(test, cond.left), _side(test, cond.comparators[0])]
            return {"kind": "compare", "op": type(cond.ops[0]), "sides": sides}
        return {"kind": "truth", "expr": ast.get_source_segment(test, cond)}
    return {"kind": "runs", "stmt": test}


def _side(test: str, node: ast.expr) -> tuple[str, object]:
    try:
        return "literal", ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return "expr", ast.get_source_segment(test, node)


def _child_test(plan: dict) -> dict:
    """What the child gets for a test: only the expressions to evaluate, never an expected value."""
    if plan["kind"] == "compare":
        return {"exprs": [src for kind, src in plan["sides"] if kind == "expr"]}
    if plan["kind"] == "truth":
        return {"exprs": [plan["expr"]]}
    return {"stmt": plan["stmt"]}


class Opaque:
    """A value that was not plain data in the child: equal to nothing but itself."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name}>"


def decode(x, depth: int = 0):
    """The inverse of sandbox_child.encode, on data the child (so the model's code) wrote: ValueError if malformed."""
    if depth > 40:
        raise ValueError("too deep")
    if x is None or type(x) in (bool, int, float, str):
        return x
    if type(x) is list:
        return [decode(v, depth + 1) for v in x]
    if type(x) is dict and len(x) == 1:
        (tag, v), = x.items()
        if tag == "opaque" and type(v) is str:
            return Opaque(v[:80])
        if tag == "bytes" and type(v) is str:
            return bytes.fromhex(v)
        if type(v) is list:
            items = [decode(i, depth + 1) for i in v]
            if tag == "tuple":
                return tuple(items)
            if tag in ("set", "frozenset"):
                return set(items) if tag == "set" else frozenset(items)
            if tag == "dict" and all(type(p) is list and len(p) == 2 for p in items):
                return {k: val for k, val in items}
            if tag == "complex" and len(items) == 2 and all(type(i) in (int, float) for i in items):
                return complex(*items)
    raise ValueError("not an encoded value")


def judge(plan: dict, records: dict) -> tuple[bool | None, str]:
    """(passed, error) for one test from its records {"error"|"ok"|0|1: event}; passed None = no result (the child
    stopped before it)."""
    if "error" in records:
        return False, str(records["error"].get("error"))[:300] or "failed"
    if plan["kind"] == "runs":
        return (True, "") if "ok" in records else (None, "")
    n = sum(1 for kind, _ in plan["sides"] if kind == "expr") if plan["kind"] == "compare" else 1
    if any(k not in records for k in range(n)):
        return None, ""
    try:
        values = [decode(records[k].get("value")) for k in range(n)]
    except (ValueError, TypeError, RecursionError, MemoryError):
        return False, "the test's value came back malformed"
    if plan["kind"] == "truth":
        v = values[0]
        return (bool(records[0].get("truthy")) if isinstance(v, Opaque) else bool(v)), "AssertionError"
    it = iter(values)
    a, b = (next(it) if kind == "expr" else value for kind, value in plan["sides"])
    try:
        passed = bool(OPS[plan["op"]](a, b))
    except Exception as err:  # comparing what came back raised (e.g. 1 < 'a')
        return False, f"{type(err).__name__}: {str(err)[:120]}"
    got = repr(values[0])
    return passed, "AssertionError: got " + (got if len(got) <= 60 else got[:57] + "...")


def _summarise(plans: list, tests: list[str], events: list[dict], timed_out: bool, returncode: int,
               timeout_s: float, memory_mb: int) -> tuple[int, str]:
    """(tests passed, readable reason) from the child's events and how it ended."""
    setup = next((e for e in events if e["event"] == "setup_error"), None)
    if returncode == SETUP_FAILED:
        return 0, f"code not executed: the sandbox could not be set up ({str((setup or {}).get('error'))[:200]})"
    load = next((e for e in events if e["event"] == "load_error"), None)
    if load:
        return 0, f"code did not load: {str(load.get('error'))[:300]}"
    records: dict[int, dict] = {}
    for e in events:
        i = e.get("i")
        if type(i) is not int or not 0 <= i < len(tests):
            continue
        key = {"value": e.get("k"), "error": "error", "ok": "ok"}.get(e["event"])
        if e["event"] == "value" and type(key) is not int:
            continue
        if key is not None:
            records.setdefault(i, {}).setdefault(key, e)  # the first record of each kind counts
    results = [judge(plan, records.get(i, {})) for i, plan in enumerate(plans)]
    passed = sum(1 for ok, _ in results if ok)
    head = f"{passed}/{len(tests)} tests passed"
    fail = next((i for i, (ok, _) in enumerate(results) if ok is False), None)
    if fail is not None:
        err = results[fail][1]
        hint = f" (memory limit {memory_mb} MB)" if err.startswith("MemoryError") else ""
        head += f"; first failure: test {fail + 1} `{tests[fail][:60]}`: {err[:120] or 'failed'}{hint}"
    missing = [i for i, (ok, _) in enumerate(results) if ok is None]
    if not missing:
        return passed, ("all " + head) if passed == len(tests) else head
    started = [e["i"] for e in events if e["event"] == "start" and type(e.get("i")) is int and e["i"] in missing]
    at = started[0] if started else missing[0]
    where = f" during test {at + 1} `{tests[at][:60]}`"
    if timed_out:
        return passed, f"timed out after {timeout_s:g}s{where}; {head}"
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode).name
        except ValueError:
            sig = f"signal {-returncode}"
        why = {"SIGXCPU": "CPU time limit", "SIGKILL": "killed (memory?)", "SIGSEGV": "crashed"}.get(sig, sig)
        return passed, f"{why} ({sig}){where}; {head}"
    return passed, f"exited with code {returncode} before finishing{where}; {head}"


def run_code_tests(code: str, function_name: str, tests: list[str], timeout_s: float = 5,
                   memory_mb: int = 256) -> SandboxResult:
    """Define `code` in a confined subprocess, then evaluate each test; see the module docstring for the limits."""
    tests = list(tests)
    refused = code_refusal()
    if refused:
        return SandboxResult(0, len(tests), False, refused, "")
    status = sandbox_status()
    plans = [plan_test(t) for t in tests]
    cfg = {"code": code, "function": function_name, "tests": [_child_test(p) for p in plans],
           "require": _required(status)}
    with tempfile.TemporaryDirectory(prefix="evalsuite-", ignore_cleanup_errors=True) as tmp:
        events, returncode, timed_out, output = _run_child(Path(tmp), cfg, timeout_s, memory_mb)
    passed, reason = _summarise(plans, tests, events, timed_out, returncode, timeout_s, memory_mb)
    return SandboxResult(passed, len(tests), passed == len(tests) and len(tests) > 0, reason, output,
                         status["summary"])

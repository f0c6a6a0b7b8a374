"""Run a model's Python function against a query's assert-tests in a separate, resource-limited process.

Usage:

    from evalsuite.sandbox import extract_code, run_code_tests
    code = extract_code(model_answer, "add")          # strips ``` fences and prose around the code
    r = run_code_tests(code, "add", ["assert add(2, 3) == 5"], timeout_s=5, memory_mb=256)
    r.passed, r.total, r.ok, r.reason, r.stdout

What it does:
- runs `python -I -S` (isolated mode, no site-packages) in a fresh temporary directory as working directory,
  with a scrubbed environment (PATH, LANG, HOME/TMPDIR pointing at that directory; nothing of ours, so no
  tokens), stdin from /dev/null, in its own session so the whole process group can be killed;
- before the model's code runs, the harness sets resource limits: address space (`memory_mb`), CPU seconds,
  RLIMIT_NPROC=0 (no new processes for a non-root user), RLIMIT_FSIZE (1 MB files), no core dumps, 64 fds.
  The harness sets them itself, as its first statements, rather than in `preexec_fn`: preexec_fn can deadlock
  when the parent has threads (Python docs), and the Gradio app that calls this has threads;
- a wall-clock timeout kills the process group; stdout/stderr go to a size-capped file and are truncated;
- a small prelude then denies, from Python: fork/exec/spawn/subprocess (RLIMIT_NPROC does not bind root, so
  this is what stops a fork bomb under root), opening files for writing / deleting / renaming outside the
  working directory, and reading /proc/*/environ (where the parent's environment, secrets included, lives);
- the code is executed with `__name__ != "__main__"`, so a model's demo block does not run; each test is
  run separately and reported as it finishes, so a hang in test 3 still credits tests 1-2.

What it does NOT protect against (this is not a security boundary for hostile code):
- the prelude is plain Python monkey-patching: `ctypes`, `posix` internals, `gc`/frame tricks or re-importing
  C modules bypass it. It exists to stop honest mistakes (fork loops, stray writes), not an attacker;
- no filesystem isolation for reading: the code can read every file the user running the app can read;
- no network isolation: the code can open sockets;
- no syscall filtering (no seccomp), no namespaces or containers; running as root, the code could even raise
  its own resource limits back up. The test results themselves can be forged by code that writes to the events fd.
Use a container, gVisor/nsjail or a throwaway VM for untrusted code. Linux/macOS only (needs `resource`).
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

MAX_OUTPUT_CHARS = 4000
FILE_LIMIT_BYTES = 1 << 20

# Runs inside the child before the model's code. argv[1] is the config file; one JSON line per event goes to
# the inherited file descriptor cfg["events_fd"].
HARNESS = r"""
import builtins, io, json, os, resource, signal, sys
with open(sys.argv[1]) as f:
    cfg = json.load(f)

# 1. Resource limits, before any model code exists in this process (hard = soft, so they cannot be raised
#    again, except by root).
mb = cfg["memory_mb"] << 20
for lim, val in [(resource.RLIMIT_AS, mb), (resource.RLIMIT_CPU, cfg["cpu_s"]), (resource.RLIMIT_NPROC, 0),
                 (resource.RLIMIT_FSIZE, cfg["fsize"]), (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NOFILE, 64)]:
    try:
        resource.setrlimit(lim, (val, val))
    except (ValueError, OSError):
        pass
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big write raises OSError instead of killing us
_write, _fd = os.write, cfg["events_fd"]
def emit(**event):
    _write(_fd, (json.dumps(event) + "\n").encode())

# 2. The prelude: deny writes outside the working directory, /proc/*/environ, and creating processes.
ROOT = os.path.realpath(os.getcwd())
def _inside(path):
    if isinstance(path, int):
        return True
    p = os.path.realpath(os.path.join(ROOT, os.fsdecode(path)))
    return p == ROOT or p.startswith(ROOT + os.sep)
def _deny(what):
    def denied(*a, **k):
        raise PermissionError(f"sandbox: {what} is not allowed")
    return denied
_open, _os_open = builtins.open, os.open
def _environ(path):
    p = "" if isinstance(path, int) else os.path.realpath(os.path.join(ROOT, os.fsdecode(path)))
    return p.startswith("/proc/") and p.endswith("/environ")
def guarded_open(file, mode="r", *a, **k):
    if _environ(file):
        raise PermissionError("sandbox: reading process environments is not allowed")
    if any(c in mode for c in "wax+") and not _inside(file):
        raise PermissionError(f"sandbox: writing outside the working directory is not allowed: {file}")
    return _open(file, mode, *a, **k)
def guarded_os_open(path, flags, *a, **k):
    if _environ(path):
        raise PermissionError("sandbox: reading process environments is not allowed")
    if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND) and not _inside(path):
        raise PermissionError(f"sandbox: writing outside the working directory is not allowed: {path}")
    return _os_open(path, flags, *a, **k)
builtins.open = io.open = guarded_open
os.open = guarded_os_open
def _guard_paths(fn, what):
    def guarded(*paths, **k):
        for p in paths[:2]:
            if isinstance(p, (str, bytes, os.PathLike)) and not _inside(p):
                raise PermissionError(f"sandbox: {what} outside the working directory is not allowed: {p}")
        return fn(*paths, **k)
    return guarded
for name in ["remove", "unlink", "rmdir", "rename", "replace", "mkdir", "makedirs", "truncate", "chmod",
             "symlink", "link", "removedirs", "utime"]:
    if hasattr(os, name):
        setattr(os, name, _guard_paths(getattr(os, name), name))
import posix, subprocess, _posixsubprocess
for mod in (os, posix):
    for name in ["fork", "forkpty", "vfork", "system", "popen", "execv", "execve", "execvp", "execvpe", "execl",
                 "execle", "execlp", "execlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe", "spawnl", "spawnle",
                 "posix_spawn", "posix_spawnp", "kill", "killpg"]:
        if hasattr(mod, name):
            setattr(mod, name, _deny(f"os.{name}"))
subprocess.Popen = _deny("subprocess")
_posixsubprocess.fork_exec = _deny("subprocess")

# 3. Load the model's code (not as __main__, so demo blocks don't run), then run each test on its own.
def _err(e):
    return (type(e).__name__ + (f": {e}" if str(e) else ""))[:300]
ns = {"__name__": "solution", "__builtins__": builtins}
try:
    exec(compile(_open("solution.py").read(), "solution.py", "exec"), ns)
except BaseException as e:
    emit(event="load_error", error=_err(e))
    sys.exit(0)
if not callable(ns.get(cfg["function"])):
    emit(event="load_error", error=f"function {cfg['function']}() is not defined")
    sys.exit(0)
for i, test in enumerate(cfg["tests"]):
    emit(event="start", i=i)
    try:
        exec(compile(test, f"test_{i}", "exec"), ns)
        emit(event="pass", i=i)
    except BaseException as e:
        emit(event="fail", i=i, error=_err(e))
emit(event="done")
"""


@dataclass
class SandboxResult:
    passed: int  # tests that passed
    total: int  # tests given
    ok: bool  # all tests passed
    reason: str  # readable summary: what passed, what failed and why, timeouts, limits hit
    stdout: str  # the code's stdout + stderr, truncated to MAX_OUTPUT_CHARS


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


def _scrubbed_env(home: str) -> dict:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": home,
            "TMPDIR": home, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


def _summarise(events: list[dict], tests: list[str], timed_out: bool, returncode: int, timeout_s: float,
               memory_mb: int) -> tuple[int, str]:
    """(tests passed, readable reason) from the harness events and how the process ended."""
    passed = sum(1 for e in events if e["event"] == "pass")
    load = next((e for e in events if e["event"] == "load_error"), None)
    if load:
        return 0, f"code did not load: {load['error']}"
    fails = [e for e in events if e["event"] == "fail"]
    started = [e["i"] for e in events if e["event"] == "start"]
    done = any(e["event"] == "done" for e in events)
    head = f"{passed}/{len(tests)} tests passed"
    if fails:
        f = fails[0]
        hint = f" (memory limit {memory_mb} MB)" if f["error"].startswith("MemoryError") else ""
        head += f"; first failure: test {f['i'] + 1} `{tests[f['i']][:60]}`: {f['error'][:120] or 'failed'}{hint}"
    if done:
        return passed, ("all " + head) if passed == len(tests) else head
    where = f" during test {started[-1] + 1} `{tests[started[-1]][:60]}`" if started else " while loading the code"
    if timed_out:
        return passed, f"timed out after {timeout_s:g}s{where}; {head}"
    if returncode < 0:
        sig = signal.Signals(-returncode).name
        why = {"SIGXCPU": "CPU time limit", "SIGKILL": "killed (memory?)", "SIGSEGV": "crashed"}.get(sig, sig)
        return passed, f"{why} ({sig}){where}; {head}"
    return passed, f"exited with code {returncode}{where}; {head}"


def run_code_tests(code: str, function_name: str, tests: list[str], timeout_s: float = 5,
                   memory_mb: int = 256) -> SandboxResult:
    """Define `code` in a sandboxed subprocess, then run each assert-test; see the module docstring for limits."""
    with tempfile.TemporaryDirectory(prefix="evalsuite-") as tmp:
        work, io_dir = Path(tmp, "work"), Path(tmp, "io")
        work.mkdir()
        io_dir.mkdir()
        (work / "solution.py").write_text(code)
        out_path, events_path = io_dir / "output.txt", io_dir / "events.jsonl"
        # stdout/stderr go to a file (never a pipe we must drain); events go to a second file passed as an fd.
        with open(out_path, "wb") as out, open(events_path, "wb") as events_file:
            cfg = {"function": function_name, "tests": list(tests), "memory_mb": int(memory_mb),
                   "cpu_s": int(timeout_s) + 1, "fsize": FILE_LIMIT_BYTES, "events_fd": events_file.fileno()}
            (io_dir / "config.json").write_text(json.dumps(cfg))
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", HARNESS, str(io_dir / "config.json")],
                cwd=work, env=_scrubbed_env(str(work)), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True, pass_fds=(events_file.fileno(),),
            )
            timed_out = False
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)  # the whole group, in case something did fork
                proc.wait()
        events = _read_events(events_path)
        with open(out_path, "rb") as f:
            stdout = f.read(MAX_OUTPUT_CHARS).decode("utf-8", "replace")
    passed, reason = _summarise(events, list(tests), timed_out, proc.returncode, timeout_s, memory_mb)
    return SandboxResult(passed, len(tests), passed == len(tests) and len(tests) > 0, reason, stdout)


def _read_events(path: Path) -> list[dict]:
    events = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and e.get("event") in {"start", "pass", "fail", "load_error", "done"}:
            events.append(e)
    return events

"""The code sandbox at work: correct code passes and wrong code fails; hangs, memory hogs and fork bombs are
contained; the child sees no secrets; and the app says what isolation this machine gives, refusing model-written code
in public mode without it. Escape attempts are in test_eval_sandbox_escapes.py, forged results in
test_eval_sandbox_forgery.py."""

import ctypes
import ctypes.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalsuite import sandbox
from evalsuite.sandbox import extract_code, run_code_tests, sandbox_status
from evalsuite.sandbox_child import SYSCALLS, seccomp_arch


REPO = Path(__file__).resolve().parents[1]


def test_correct_function_passes_all_tests():
    tests = ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"]
    start = time.monotonic()
    r = run_code_tests("def add(a, b):\n    return a + b\n", "add", tests)
    assert time.monotonic() - start < 3  # overhead per query stays small (about 30 ms on a 2-core VM)
    assert (r.passed, r.total, r.ok) == (2, 2, True)
    assert r.reason == "all 2/2 tests passed"


def test_wrong_function_gets_partial_credit_and_a_reason():
    r = run_code_tests("def add(a, b):\n    return a * b\n", "add", ["assert add(2, 2) == 4", "assert add(2, 3) == 5"])
    assert (r.passed, r.ok) == (1, False)
    assert "first failure: test 2 `assert add(2, 3) == 5`: AssertionError: got 6" in r.reason


def test_test_forms_are_judged_by_value():
    code = "def f(x):\n    return [x, x]\n"
    tests = ["assert f(1) == [1, 1]", "assert [2, 2] == f(2)", "assert f(1) != [0]", "assert 3 in f(3)",
             "assert len(f(1)) == 2", "assert f(1) == f(1)", "assert f(1)", "f(0)", "x = f(1)\nassert x"]
    r = run_code_tests(code, "f", tests)
    assert r.ok, r.reason
    r = run_code_tests(code, "f", ["assert f(1) is None", "assert not f(1)", "assert f(1) == (1, 1)"])
    assert r.passed == 0 and "test 1 `assert f(1) is None`: AssertionError: got [1, 1]" in r.reason
    assert "TypeError: '>' not supported" in run_code_tests(code, "f", ["assert f(1) > 'a'"]).reason


def test_infinite_loop_times_out_and_keeps_earlier_passes():
    code = "def f(x):\n    while x == 2:\n        pass\n    return x\n"
    start = time.monotonic()
    r = run_code_tests(code, "f", ["assert f(1) == 1", "assert f(2) == 2"], timeout_s=1)
    assert time.monotonic() - start < 4
    assert (r.passed, r.ok) == (1, False)
    assert r.reason.startswith("timed out after 1s during test 2")


def test_large_allocation_hits_the_memory_limit():
    r = run_code_tests("def hog():\n    return bytearray(2 * 1024 ** 3)\n", "hog", ["hog()"], memory_mb=256)
    assert not r.ok
    assert "MemoryError" in r.reason and "memory limit 256 MB" in r.reason


def test_write_inside_working_directory_is_allowed():
    code = ("import os\ndef roundtrip():\n    open('note.txt', 'w').write('hi')\n    os.mkdir('d')\n"
            "    os.rename('note.txt', 'd/n.txt')\n    return open(os.path.join(os.getcwd(), 'd/n.txt')).read()\n")
    assert run_code_tests(code, "roundtrip", ["assert roundtrip() == 'hi'"]).ok


def test_fork_bomb_is_contained_and_finishes_fast():
    code = "import os\ndef bomb():\n    while True:\n        os.fork()\n"
    start = time.monotonic()
    r = run_code_tests(code, "bomb", ["bomb()"], timeout_s=2)
    assert time.monotonic() - start < 3
    assert not r.ok and ("PermissionError" in r.reason or "BlockingIOError" in r.reason), r.reason
    code = "import subprocess\ndef spawn():\n    return subprocess.run(['true'])\n"
    assert not run_code_tests(code, "spawn", ["spawn()"]).ok


def test_fork_through_ctypes_fails_too():
    # no Python-level guard to bypass: the kernel refuses (seccomp, or RLIMIT_NPROC for a non-root uid)
    code = "import ctypes\ndef fork():\n    return ctypes.CDLL(None).fork()\n"
    assert run_code_tests(code, "fork", ["assert fork() == -1"]).ok


def test_environment_secret_is_not_visible(monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "hunter2-do-not-leak")
    code = "import os\ndef peek():\n    return os.environ.get('SECRET_TOKEN')\n"
    r = run_code_tests(code, "peek", ["assert peek() is None", "print(sorted(__import__('os').environ))"])
    assert r.ok, r.reason
    assert "SECRET_TOKEN" not in r.stdout and "PATH" in r.stdout


def test_load_errors_are_reported():
    assert run_code_tests("def f(:\n", "f", ["f()"]).reason.startswith("code did not load: SyntaxError")
    assert "function g() is not defined" in run_code_tests("def f():\n    pass\n", "g", ["g()"]).reason


def test_demo_block_does_not_run_and_output_is_truncated():
    code = "def f():\n    print('x' * 100000)\n    return 1\nif __name__ == '__main__':\n    input()\n"
    r = run_code_tests(code, "f", ["assert f() == 1"])
    assert r.ok and len(r.stdout) <= 4000


# ---- status and public mode -------------------------------------------------------------------------------------

def test_sandbox_status_describes_this_machine():
    status = sandbox_status()
    assert set(status) >= {"landlock_abi", "seccomp", "uid_drop", "full", "problems", "summary"}
    assert status["full"] == (not status["problems"])
    if os.geteuid() == 0 and status["full"]:
        assert status["uid_drop"] == "uid 65534"
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        kernel_abi = max(0, libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1)))
    except (AttributeError, OSError):
        kernel_abi = 0
    assert status["landlock_abi"] in (0, kernel_abi)


NO_LANDLOCK = {"landlock_abi": 0, "seccomp": True, "uid_drop": "uid 65534", "full": False,
               "problems": ["the kernel offers no Landlock"], "summary": "no Landlock, seccomp, uid 65534"}


def test_public_mode_refuses_code_without_the_full_sandbox(monkeypatch):
    from evalsuite.runner import score_row
    from evalsuite.suite import load_suite
    from trainers.mode import mode

    monkeypatch.setattr(sandbox, "sandbox_status", lambda: NO_LANDLOCK)
    monkeypatch.delenv("PLAYGROUND_MODE", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert mode() == "local" and sandbox.code_refusal() is None
    for env, value in [("PLAYGROUND_MODE", "public"), ("PLAYGROUND_MODE", "pubilc"), ("SPACE_ID", "me/space")]:
        monkeypatch.setenv(env, value)
        assert mode() == "public"
        r = run_code_tests("def add(a, b):\n    return a + b\n", "add", ["assert add(1, 1) == 2"])
        assert (r.ok, r.reason) == (False, "code not executed: the kernel offers no Landlock")
        monkeypatch.delenv(env)
    monkeypatch.setenv("SPACE_ID", "me/space")
    monkeypatch.setenv("PLAYGROUND_MODE", "local")
    assert mode() == "local"
    monkeypatch.setenv("PLAYGROUND_MODE", "public")
    query = next(q for q in load_suite() if q.check["type"] == "code")
    job = {"query": query, "variant": "p0", "variant_kind": "paraphrase", "text": "prompt"}
    answer = f"def {query.check['function']}(x):\n    return x\n"
    refused = sandbox.code_refusal()
    row = score_row("base", job, answer, include_code=False, refused=refused)
    assert row["why"] == "code not executed: the kernel offers no Landlock; static check only: defines the function"
    assert row["extra"] == {"executed": False}


HIDE_LANDLOCK = r"""
import ctypes, json, os, sys
sys.path.insert(0, sys.argv[1])
from evalsuite.sandbox_child import JEQ_K, LD_ABS_W, RET_ALLOW, RET_ERRNO, RET_K, _SockFilter, _SockFprog
# a filter of our own that makes this process and its children look like a kernel without Landlock (ENOSYS)
prog = [(LD_ABS_W, 0, 0, 0)] + [(JEQ_K, 3 - i, 0, nr) for i, nr in enumerate((444, 445, 446))]
prog += [(RET_K, 0, 0, RET_ALLOW), (RET_K, 0, 0, RET_ERRNO | 38)]
libc = ctypes.CDLL(None)
libc.prctl(38, 1, 0, 0, 0)
filters = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
assert libc.prctl(22, 2, ctypes.byref(_SockFprog(len(prog), filters)), 0, 0) == 0
from evalsuite.sandbox import run_code_tests, sandbox_status
r = run_code_tests("def add(a, b):\n    return a + b\n", "add", ["assert add(1, 1) == 2"])
print(json.dumps({"status": sandbox_status(), "ok": r.ok, "reason": r.reason}))
"""


@pytest.mark.skipif(seccomp_arch() is None, reason="hiding Landlock needs a seccomp filter of our own")
def test_public_mode_refuses_on_a_kernel_without_landlock():
    env = {**os.environ, "PLAYGROUND_MODE": "public"}
    out = subprocess.run([sys.executable, "-c", HIDE_LANDLOCK, str(REPO)], env=env, capture_output=True, text=True,
                         timeout=60)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["status"]["landlock_abi"] == 0 and not got["status"]["full"]
    assert "the kernel offers no Landlock" in got["status"]["problems"]
    assert (got["ok"], got["reason"]) == (False, "code not executed: the kernel offers no Landlock")


def test_evaluate_tab_says_what_the_sandbox_is(monkeypatch):
    from playground.evaluate_tab import code_option

    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.setenv("PLAYGROUND_MODE", "local")
    option = code_option()
    assert option["interactive"] and sandbox_status()["summary"] in option["info"]
    monkeypatch.setattr(sandbox, "sandbox_status", lambda: NO_LANDLOCK)
    monkeypatch.setenv("PLAYGROUND_MODE", "public")
    assert code_option() == {"interactive": False, "info": "Public mode: code not executed: the kernel offers no "
                                                           "Landlock. Code answers get a static check."}


@pytest.mark.skipif(not ctypes.util.find_library("seccomp"), reason="libseccomp is not installed to compare with")
def test_syscall_numbers_match_libseccomp():
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp"))
    lib.seccomp_syscall_resolve_name_arch.restype = ctypes.c_int
    arch_tokens = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}  # SCMP_ARCH_* are the AUDIT_ARCH_* values
    checked = 0
    for arch, table in SYSCALLS.items():
        for name, nr in table.items():
            got = lib.seccomp_syscall_resolve_name_arch(ctypes.c_uint32(arch_tokens[arch]), name.encode())
            if got < 0 and nr > 450:  # newer than this libseccomp's tables (2.5.4 stops before setxattrat, 463)
                continue
            assert got == nr, (arch, name, got, nr)
            checked += 1
    assert checked > 150


def test_extract_code_from_answers():
    fenced = "Here you go:\n```python\ndef triple(x):\n    return x * 3\n```\nThis multiplies by three."
    assert extract_code(fenced, "triple") == "def triple(x):\n    return x * 3"
    two = "```\nprint(triple(2))\n```\n```py\ndef triple(x):\n    return 3 * x\n```"
    assert extract_code(two, "triple") == "def triple(x):\n    return 3 * x"
    prose = "Sure! def is a keyword.\ndef triple(x):\n    return x * 3\nThis function triples x."
    assert extract_code(prose, "triple") == "def triple(x):\n    return x * 3"
    unterminated = "```python\ndef triple(x):\n    return x * 3"
    assert extract_code(unterminated, "triple") == "def triple(x):\n    return x * 3"

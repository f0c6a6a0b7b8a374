"""The code sandbox: correct code passes; hangs, memory hogs, stray writes, fork bombs and secret-reading don't
get through (against honest mistakes; see evalsuite/sandbox.py for what it does not stop)."""

import os
import time

import pytest

from evalsuite.sandbox import extract_code, run_code_tests


def test_correct_function_passes_all_tests():
    tests = ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"]
    r = run_code_tests("def add(a, b):\n    return a + b\n", "add", tests)
    assert (r.passed, r.total, r.ok) == (2, 2, True)
    assert r.reason == "all 2/2 tests passed"


def test_wrong_function_gets_partial_credit_and_a_reason():
    r = run_code_tests("def add(a, b):\n    return a * b\n", "add", ["assert add(2, 2) == 4", "assert add(2, 3) == 5"])
    assert (r.passed, r.ok) == (1, False)
    assert "first failure: test 2 `assert add(2, 3) == 5`: AssertionError" in r.reason


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


def test_write_outside_working_directory_is_denied(tmp_path):
    target = tmp_path / "escaped.txt"  # pytest's tmp dir, not the sandbox's working directory
    code = f"def write():\n    open({str(target)!r}, 'w').write('x')\n    return True\n"
    r = run_code_tests(code, "write", ["assert write()"])
    assert not r.ok and "writing outside the working directory is not allowed" in r.reason
    assert not target.exists()
    code = f"import pathlib\ndef write():\n    pathlib.Path({str(target)!r}).write_text('x')\n"
    assert not run_code_tests(code, "write", ["write()"]).ok
    assert not target.exists()


def test_write_inside_working_directory_is_allowed():
    code = "def roundtrip():\n    open('note.txt', 'w').write('hi')\n    return open('note.txt').read()\n"
    assert run_code_tests(code, "roundtrip", ["assert roundtrip() == 'hi'"]).ok


def test_fork_bomb_is_contained_and_finishes_fast():
    code = "import os\ndef bomb():\n    while True:\n        os.fork()\n"
    start = time.monotonic()
    r = run_code_tests(code, "bomb", ["bomb()"], timeout_s=2)
    assert time.monotonic() - start < 3
    assert not r.ok and "os.fork is not allowed" in r.reason
    code = "import subprocess\ndef spawn():\n    return subprocess.run(['true'])\n"
    assert "subprocess is not allowed" in run_code_tests(code, "spawn", ["spawn()"]).reason


@pytest.mark.skipif(os.geteuid() == 0, reason="RLIMIT_NPROC does not bind root; there only the prelude guards")
def test_prelude_bypass_still_cannot_fork_without_root():
    # ctypes skips the Python-level guard, but RLIMIT_NPROC=0 makes the fork itself fail (returns -1).
    code = "import ctypes\ndef fork():\n    return ctypes.CDLL(None).fork()\n"
    assert run_code_tests(code, "fork", ["assert fork() == -1"]).ok


def test_environment_secret_is_not_visible(monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "hunter2-do-not-leak")
    code = "import os\ndef peek():\n    return os.environ.get('SECRET_TOKEN')\n"
    r = run_code_tests(code, "peek", ["assert peek() is None", "print(sorted(__import__('os').environ))"])
    assert r.ok, r.reason
    assert "SECRET_TOKEN" not in r.stdout and "PATH" in r.stdout
    # The parent's environment is also readable under /proc; the prelude blocks that obvious route.
    code = "import os\ndef peek():\n    return open(f'/proc/{os.getppid()}/environ').read()\n"
    r = run_code_tests(code, "peek", ["assert 'hunter2' not in peek()"])
    assert not r.ok and "reading process environments is not allowed" in r.reason


def test_load_errors_are_reported():
    assert run_code_tests("def f(:\n", "f", ["f()"]).reason.startswith("code did not load: SyntaxError")
    assert "function g() is not defined" in run_code_tests("def f():\n    pass\n", "g", ["g()"]).reason


def test_demo_block_does_not_run_and_output_is_truncated():
    code = "def f():\n    print('x' * 100000)\n    return 1\nif __name__ == '__main__':\n    input()\n"
    r = run_code_tests(code, "f", ["assert f() == 1"])
    assert r.ok and len(r.stdout) <= 4000


def test_extract_code_from_answers():
    fenced = "Here you go:\n```python\ndef triple(x):\n    return x * 3\n```\nThis multiplies by three."
    assert extract_code(fenced, "triple") == "def triple(x):\n    return x * 3"
    two = "```\nprint(triple(2))\n```\n```py\ndef triple(x):\n    return 3 * x\n```"
    assert extract_code(two, "triple") == "def triple(x):\n    return 3 * x"
    prose = "Sure! def is a keyword.\ndef triple(x):\n    return x * 3\nThis function triples x."
    assert extract_code(prose, "triple") == "def triple(x):\n    return x * 3"
    unterminated = "```python\ndef triple(x):\n    return x * 3"
    assert extract_code(unterminated, "triple") == "def triple(x):\n    return x * 3"

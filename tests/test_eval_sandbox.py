"""The code sandbox: correct code passes and wrong code fails; hangs, memory hogs and fork bombs are contained; and
hostile code (reading secrets, network, exec, signals, ptrace, writes outside, forged results, leftover processes) is
contained by the kernel layers of evalsuite/sandbox_child.py. Where this kernel lacks a layer, an escape test checks
instead that public mode refuses to run the code."""

import ctypes
import ctypes.util
import json
import os
import resource
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from evalsuite import sandbox
from evalsuite.sandbox import extract_code, plan_test, run_code_tests, sandbox_status
from evalsuite.sandbox_child import SYSCALLS, seccomp_arch

REPO = Path(__file__).resolve().parents[1]
# Each escape attempt returns this list when everything it tried was refused.
CONTAINED = "assert attempt() == []"


def escape(monkeypatch, code: str, tests=(CONTAINED,), **kw):
    """Run hostile `code` (its attempt() returns what got through). Without the full sandbox, check that public
    mode refuses to run it and return None."""
    code = textwrap.dedent(code)
    if not sandbox_status()["full"]:
        monkeypatch.setenv("PLAYGROUND_MODE", "public")
        r = run_code_tests(code, "attempt", list(tests), **kw)
        assert not r.ok and r.reason.startswith("code not executed: "), r.reason
        return None
    r = run_code_tests(code, "attempt", list(tests), **kw)
    assert r.isolation == sandbox_status()["summary"]
    return r


@pytest.fixture
def open_dir():
    """A directory (and a file in it) that uid 65534 may read and write by file permissions, so only Landlock
    stands between the sandbox and it."""
    path = Path(tempfile.mkdtemp(prefix="sandbox-target-"))
    path.chmod(0o777)
    (path / "secret.txt").write_text("the answer key")
    (path / "secret.txt").chmod(0o666)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


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


# ---- escape attempts --------------------------------------------------------------------------------------------

def test_reading_files_outside_is_denied(monkeypatch, open_dir):
    r = escape(monkeypatch, f"""
        def attempt():
            leaked = []
            for path in ['/etc/shadow', '/etc/passwd', '/root/.bashrc', {str(REPO / 'README.md')!r},
                         {str(REPO / 'assets/eval/suite.jsonl')!r}, {str(open_dir / 'secret.txt')!r},
                         '/proc/1/status']:
                try:
                    leaked.append((path, open(path).read(20)))
                except OSError:
                    pass
            import os
            for d in ['/', '/tmp', {str(open_dir)!r}, '/work', '/root']:
                try:
                    leaked.append((d, os.listdir(d)))
                except OSError:
                    pass
            return leaked
    """)
    assert r is None or r.ok, r.reason


def test_parent_environment_and_memory_are_unreadable(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_fake_secret_for_the_test")
    read_end, write_end = os.pipe()
    os.write(write_end, b"pipe secret")
    try:
        r = escape(monkeypatch, f"""
            import os
            def attempt():
                leaked = []
                parent = os.getppid()
                for path in [f'/proc/{{parent}}/environ', f'/proc/{{parent}}/mem', f'/proc/{{parent}}/cmdline',
                             f'/proc/{{parent}}/fd/{read_end}', '/proc/self/environ', '/proc/1/environ']:
                    try:
                        with open(path, 'rb') as f:
                            data = f.read(4096)
                        if b'hf_fake' in data or b'pipe secret' in data:
                            leaked.append(path)
                    except OSError:
                        pass
                return leaked
        """)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert r is None or r.ok, r.reason


def test_no_network_tcp(monkeypatch):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        r = escape(monkeypatch, f"""
            import ctypes, socket
            def attempt():
                got = []
                try:
                    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()
                    got.append('tcp')
                except OSError:
                    pass
                try:
                    socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                    got.append('inet6')
                except OSError:
                    pass
                if ctypes.CDLL(None).socket(2, 1, 0) >= 0:  # AF_INET straight through libc
                    got.append('raw')
                return got
        """)
        server.settimeout(0.3)
        with pytest.raises(TimeoutError):
            server.accept()[0].close()
    finally:
        server.close()
    assert r is None or r.ok, r.reason


def test_no_unix_sockets(monkeypatch, open_dir):
    path = str(open_dir / "app.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    os.chmod(path, 0o777)
    server.listen()
    try:
        r = escape(monkeypatch, f"""
            import socket
            def attempt():
                got = []
                for family, address in [(socket.AF_UNIX, {path!r}), (socket.AF_UNIX, '\\0abstract-app')]:
                    try:
                        s = socket.socket(family)
                        got.append('created')
                        s.connect(address)
                        got.append('connected')
                    except OSError:
                        pass
                try:
                    socket.socketpair()
                    got.append('pair')
                except OSError:
                    pass
                return got
        """)
        server.settimeout(0.3)
        with pytest.raises(TimeoutError):
            server.accept()[0].close()
    finally:
        server.close()
    assert r is None or r.ok, r.reason


def test_no_shell_or_exec(monkeypatch, open_dir):
    marker = open_dir / "ran"
    r = escape(monkeypatch, f"""
        import ctypes, os, subprocess
        def attempt():
            got = []
            tries = {{
                'system': lambda: os.system('touch {marker}'),
                'popen': lambda: os.popen('touch {marker}').read(),
                'subprocess': lambda: subprocess.run(['/bin/sh', '-c', 'touch {marker}']),
                'posix_spawn': lambda: os.posix_spawn('/bin/sh', ['sh', '-c', 'touch {marker}'], {{}}),
                'execv': lambda: os.execv('/bin/sh', ['sh', '-c', 'touch {marker}']),
                'ctypes execve': lambda: ctypes.CDLL(None).execve(b'/bin/sh', None, None),
            }}
            for name, fn in tries.items():
                try:
                    result = fn()
                    if result not in (-1, 32512, 127 << 8, ''):  # os.system's "could not run"
                        got.append(name)
                except OSError:
                    pass
            return got
    """)
    assert r is None or r.ok, r.reason
    assert not marker.exists()


def test_no_signals_to_other_processes(monkeypatch):
    victim = subprocess.Popen(["sleep", "30"], start_new_session=True)
    received = []
    # were the sandbox broken, the SIGTERM sent to this process is recorded instead of ending pytest
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        r = escape(monkeypatch, f"""
            import ctypes, os, signal
            def attempt():
                got = []
                libc = ctypes.CDLL(None)
                for name, fn in [('kill parent', lambda: os.kill(os.getppid(), signal.SIGTERM)),
                                 ('kill victim', lambda: os.kill({victim.pid}, signal.SIGKILL)),
                                 ('killpg victim', lambda: os.killpg({victim.pid}, signal.SIGKILL)),
                                 ('ctypes kill', lambda: libc.kill({victim.pid}, 9) == 0 or 1 / 0),
                                 ('pidfd', lambda: os.pidfd_open({victim.pid}))]:
                    try:
                        fn()
                        got.append(name)
                    except (OSError, ZeroDivisionError):
                        pass
                return got
        """)
        time.sleep(0.1)
        assert victim.poll() is None and received == []
    finally:
        signal.signal(signal.SIGTERM, previous)
        victim.kill()
        victim.wait()
    assert r is None or r.ok, r.reason


def test_no_writes_outside_by_any_route(monkeypatch, open_dir):
    r = escape(monkeypatch, f"""
        import _io, io, os, pathlib
        def attempt():
            got = []
            target = {str(open_dir)!r}
            tries = {{
                'open': lambda: open(target + '/a', 'w').write('x'),
                'FileIO': lambda: _io.FileIO(target + '/b', 'w').write(b'x'),
                'io.open': lambda: io.open(target + '/c', 'w').write('x'),
                '__globals__': lambda: getattr(open, '__globals__', {{}}).get('open', io.open)(target + '/d', 'w'),
                'os.open': lambda: os.open(target + '/e', os.O_CREAT | os.O_WRONLY),
                'pathlib': lambda: pathlib.Path(target, 'f').write_text('x'),
                'append': lambda: open(target + '/secret.txt', 'a').write('x'),
                'truncate': lambda: os.truncate(target + '/secret.txt', 0),
                'unlink': lambda: os.unlink(target + '/secret.txt'),
                'mkdir': lambda: os.mkdir(target + '/g'),
                'rename out': lambda: (open('mine', 'w').close(), os.rename('mine', target + '/h')),
                'link out': lambda: (open('mine2', 'w').close(), os.link('mine2', target + '/i')),
                'symlink': lambda: (os.symlink(target + '/j', 'ln'), open('ln', 'w').write('x')),
                'chmod': lambda: os.chmod(target + '/secret.txt', 0o600),
            }}
            for name, fn in tries.items():
                try:
                    fn()
                    got.append(name)
                except OSError:
                    pass
            return got
    """)
    assert r is None or r.ok, r.reason
    assert sorted(p.name for p in open_dir.iterdir()) == ["secret.txt"]
    assert (open_dir / "secret.txt").read_text() == "the answer key"
    assert stat.S_IMODE((open_dir / "secret.txt").stat().st_mode) == 0o666


def test_ptrace_namespaces_and_limits_are_denied(monkeypatch):
    # Other processes' settings are tried on a victim of this test's uid, not on this test process: were the
    # sandbox broken, pytest itself would lose its file descriptors.
    victim = subprocess.Popen(["sleep", "30"], start_new_session=True)
    before = os.getpriority(os.PRIO_PROCESS, victim.pid), os.sched_getaffinity(victim.pid)
    try:
        r = escape(monkeypatch, f"""
            import ctypes, os, resource
            def attempt():
                libc = ctypes.CDLL(None, use_errno=True)
                got = []
                # PTRACE_SEIZE, not ATTACH: were it to succeed, it would not stop the test process
                if libc.ptrace(0x4206, os.getppid(), 0, 0) == 0:
                    got.append('seize')
                if libc.ptrace(0, 0, 0, 0) == 0:  # PTRACE_TRACEME
                    got.append('traceme')
                if libc.unshare(0x10000000) == 0:  # CLONE_NEWUSER
                    got.append('userns')
                # a missing target: refused before the path lookup (EPERM), or else ENOENT; never a real mount
                if libc.mount(b'none', b'./missing', b'tmpfs', 0, None) != 0 and ctypes.get_errno() != 1:
                    got.append('mount')
                victim = {victim.pid}
                for name, fn in [('prlimit other', lambda: resource.prlimit(victim, resource.RLIMIT_NOFILE, (0, 0))),
                                 ('raise own AS', lambda: resource.setrlimit(resource.RLIMIT_AS, (-1, -1))),
                                 ('setuid 0', lambda: os.setuid(0)),
                                 ('nice other', lambda: os.setpriority(os.PRIO_PROCESS, victim, 19)),
                                 ('pin other', lambda: os.sched_setaffinity(victim, {{0}}))]:
                    try:
                        fn()
                        got.append(name)
                    except (OSError, ValueError):
                        pass
                return got
        """)
        after = os.getpriority(os.PRIO_PROCESS, victim.pid), os.sched_getaffinity(victim.pid)
        assert after == before and resource.prlimit(victim.pid, resource.RLIMIT_NOFILE)[0] > 0
    finally:
        victim.kill()
        victim.wait()
    assert r is None or r.ok, r.reason


def test_no_process_outlives_the_run(monkeypatch):
    marker = f"sbx{os.getpid() % 100000}"
    r = escape(monkeypatch, f"""
        import ctypes, os, threading, time
        def attempt():
            got = []
            libc = ctypes.CDLL(None)
            for name, fork in [('os.fork', os.fork), ('ctypes fork', libc.fork),
                               ('clone syscall', lambda: libc.syscall(56 if os.uname().machine == 'x86_64' else 220,
                                                                      17, 0, 0, 0, 0))]:
                try:
                    pid = fork()
                except OSError:
                    continue
                if pid == 0:
                    os.setsid()
                    libc.prctl(15, {marker.encode()!r}, 0, 0, 0)  # PR_SET_NAME: the name to look for
                    time.sleep(60)
                if pid > 0:
                    got.append(name)
            try:
                threading.Thread(target=time.sleep, args=(60,)).start()
                got.append('thread')
            except RuntimeError:
                pass
            return got
    """, tests=(CONTAINED, "import time\nwhile True:\n    time.sleep(1)"), timeout_s=1)
    time.sleep(0.2)
    assert [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == marker] == []
    assert r is None or (r.passed == 1 and "timed out after 1s during test 2" in r.reason), r.reason


# ---- forged results ---------------------------------------------------------------------------------------------

ADD_TESTS = ["assert add(2, 3) == 5", "assert add(-1, 1) == 0", "assert add(10, 5) == 15"]
FORGERIES = {
    "protocol lines on stdout, then exit": """
        import os
        print('{"event": "ok", "i": 0}\\n{"event": "done"}\\nall 3/3 tests passed')
        os._exit(0)
    """,
    "sys.exit(0) before the tests": "import sys\nsys.exit(0)\n",
    "os._exit(0) while loading": "import os\nos._exit(0)\n",
    "os._exit(0) in the first test": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "claims on every fd": """
        import json, os
        for i in range(3):
            for fd in range(3, 64):
                for event in [{"event": "ok", "i": i}, {"event": "value", "i": i, "k": "ok", "value": True},
                              {"event": "value", "i": i, "k": 0, "value": True, "truthy": True}]:
                    try:
                        os.write(fd, (json.dumps(event) + "\\n").encode())
                    except OSError:
                        pass
        os._exit(0)
    """,
    "malformed events, then the setup-failure exit code": """
        import os
        junk = ['{"event": "setup_error", "error": 7}', '{"event": "error", "i": 0, "error": [1]}',
                '{"event": "value", "i": 1, "k": 0, "value": {"set": [[1]]}}', '[' * 5000 + ']' * 5000,
                '{"event": "value", "i": 2, "k": 0, "value": {"bytes": "zz"}}', '{"event": "start", "i": 99}',
                '{"event": "value", "i": 2, "k": 0, "value": ' + '9' * 5000 + '}']
        for fd in range(3, 64):
            try:
                os.write(fd, ("\\n".join(junk) + "\\n").encode())
            except OSError:
                pass
        os._exit(97)
    """,
    "patched builtins": """
        import builtins
        builtins.eval = lambda *a, **k: 5
        builtins.AssertionError = type('Nope', (Exception,), {})
        def add(a, b):
            return 0
    """,
    "patched harness through the frames": """
        import sys
        frame = sys._getframe()
        while frame:
            g = frame.f_globals
            if 'encode' in g:
                g['encode'] = lambda value, depth=0: 5
                g['json'].dumps = lambda *a, **k: '{"event": "ok", "i": 0}'
            frame = frame.f_back
        def add(a, b):
            return None
    """,
    "__eq__ that says yes": """
        class Yes:
            def __eq__(self, other):
                return True
            __hash__ = object.__hash__
        class YesInt(int):
            def __eq__(self, other):
                return True
            __hash__ = int.__hash__
        def add(a, b):
            return Yes() if a > 0 else YesInt(7)
    """,
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_forged_results_fail(name):
    r = run_code_tests(textwrap.dedent(FORGERIES[name]), "add", ADD_TESTS)
    assert r.passed < 3 and not r.ok, (name, r.reason)
    # the patched-builtins forger returns the one value it could know (5) for everything: one test right at most
    assert r.passed <= 1, (name, r.reason)


def test_the_child_never_sees_expected_values():
    for test, sent in [("assert add(2, 3) == 5", ["add(2, 3)"]), ("assert 'Hello' == to_title('hello')",
                                                                  ["to_title('hello')"]),
                       ("assert f(0) is False", ["f(0)"]), ("assert f(1) in [1, 2]", ["f(1)"])]:
        assert sandbox._child_test(plan_test(test)) == {"exprs": sent}


def test_suite_code_tests_are_all_value_checked():
    from evalsuite.suite import load_suite

    for query in load_suite():
        if query.check["type"] == "code":
            for test in query.check["tests"]:
                plan = plan_test(test)
                assert plan["kind"] == "compare" and ("literal" in [k for k, _ in plan["sides"]]), (query.id, test)


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

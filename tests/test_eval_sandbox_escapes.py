"""Hostile code in the sandbox: reading files and the parent's environment, network, exec, signals, ptrace, writes
outside and leftover processes are each refused by the kernel layers of evalsuite/sandbox_child.py. Where this kernel
lacks a layer, each test checks instead that public mode refuses to run the code."""

import os
import resource
import signal
import socket
import stat
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from evalsuite.sandbox import run_code_tests, sandbox_status

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

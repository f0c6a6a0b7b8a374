"""The sandboxed side of evalsuite/sandbox.py: confine this process, then run a model's code and evaluate test
expressions. Standard library only, because it runs as `python -I -S -B sandbox_child.py CONFIG` (no site-packages).

    python -I -S -B evalsuite/sandbox_child.py config.json     # config written by sandbox.run_code_tests

In order, before any model-written code exists in this process:
1. rlimits (memory, CPU seconds, no new processes, 1 MB files, 64 fds, no core dumps), hard = soft;
2. PR_SET_NO_NEW_PRIVS and not dumpable;
3. a Landlock ruleset: read/write beneath the working directory, read-only on the interpreter's own sys.path, the
   shared-library directories and a few device files; every TCP bind/connect denied (ABI >= 4); signals and abstract
   unix sockets scoped to this process (ABI >= 6);
4. when started as root: no supplementary groups, uid and gid 65534 (nobody), checked;
5. landlock_restrict_self, then a seccomp filter denying (EPERM) sockets, exec, fork/clone/threads, signals,
   ptrace and cross-process memory, namespaces and mounts, changing file modes/owners/times/xattrs (Landlock does
   not cover those), SysV/POSIX IPC, fanotify/inotify, io_uring, bpf, keyrings, and changing other processes'
   limits, priority, CPU affinity or I/O signal owner.
A layer the parent marked required that fails to apply ends the process with SETUP_FAILED before the code is
loaded. The parent decides pass/fail from the values sent on the events fd, never from this process's claims; see
the docstring of evalsuite/sandbox.py for why the channel needs no secret.
"""

import ctypes
import json
import os
import resource
import signal
import struct
import sys

SETUP_FAILED = 97
SANDBOX_UID = SANDBOX_GID = 65534  # nobody / nogroup on Debian

# Landlock (include/uapi/linux/landlock.h); the syscall numbers are the generic ones on every architecture.
LANDLOCK_CREATE_RULESET, LANDLOCK_ADD_RULE, LANDLOCK_RESTRICT_SELF = 444, 445, 446
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_MAKE_CHAR, FS_MAKE_BLOCK = 1 << 6, 1 << 11
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_TCP = (1 << 0) | (1 << 1)  # bind, connect
SCOPE_ALL = (1 << 0) | (1 << 1)  # abstract unix sockets, signals
LOG_SAME_EXEC_OFF = 1 << 0  # ABI 7: hostile code's denials are expected; don't fill the audit log with them
READ = FS_READ_FILE | FS_READ_DIR
SYSTEM_LIB_DIRS = ["/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib"]  # for dlopen of C extensions
SYSTEM_FILES = {"/etc/ld.so.cache": FS_READ_FILE, "/dev/null": FS_READ_FILE | FS_WRITE_FILE,
                "/dev/zero": FS_READ_FILE, "/dev/urandom": FS_READ_FILE, "/dev/random": FS_READ_FILE}

# seccomp: denied syscalls, by architecture (arch/x86/entry/syscalls/syscall_64.tbl; asm-generic/unistd.h for
# aarch64). A test checks these numbers against libseccomp's tables where libseccomp is installed.
DENIED = {
    "network": ["socket", "socketpair"],
    "exec": ["execve", "execveat", "uselib"],
    "processes": ["fork", "vfork", "clone", "clone3", "setsid", "setpgid", "unshare", "setns"],
    "signals": ["kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal",
                "pidfd_open", "pidfd_getfd"],
    "other processes": ["ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp",
                        "get_robust_list", "setpriority", "sched_setaffinity", "sched_setscheduler",
                        "sched_setparam", "sched_setattr", "ioprio_set", "migrate_pages", "move_pages"],
    "mounts": ["mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick",
               "open_tree", "move_mount", "mount_setattr", "open_tree_attr", "open_by_handle_at", "name_to_handle_at"],
    "file metadata": ["chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "utime",
                      "utimes", "futimesat", "utimensat", "setxattr", "lsetxattr", "fsetxattr", "removexattr",
                      "lremovexattr", "fremovexattr", "setxattrat", "removexattrat", "file_setattr"],
    "ipc and watching": ["shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semctl", "semtimedop", "msgget",
                         "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
                         "mq_notify", "mq_getsetattr", "fanotify_init", "fanotify_mark", "inotify_init",
                         "inotify_init1", "inotify_add_watch"],
    "kernel": ["io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "perf_event_open", "userfaultfd",
               "keyctl", "add_key", "request_key", "personality", "reboot", "init_module", "finit_module",
               "delete_module", "kexec_load", "kexec_file_load", "iopl", "ioperm", "swapon", "swapoff", "acct",
               "quotactl", "syslog"],
}
SYSCALLS = {
    "x86_64": {
        "socket": 41, "socketpair": 53, "execve": 59, "execveat": 322, "uselib": 134, "fork": 57, "vfork": 58,
        "clone": 56, "clone3": 435, "setsid": 112, "setpgid": 109, "unshare": 272, "setns": 308, "kill": 62,
        "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "pidfd_send_signal": 424,
        "pidfd_open": 434, "pidfd_getfd": 438, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
        "process_madvise": 440, "kcmp": 312, "get_robust_list": 274, "setpriority": 141, "sched_setaffinity": 203,
        "sched_setscheduler": 144, "sched_setparam": 142, "sched_setattr": 314, "ioprio_set": 251,
        "migrate_pages": 256, "move_pages": 279, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "open_tree": 428, "move_mount": 429,
        "mount_setattr": 442, "open_by_handle_at": 304, "name_to_handle_at": 303, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
        "keyctl": 250, "add_key": 248, "request_key": 249, "personality": 135, "reboot": 169, "init_module": 175,
        "finit_module": 313, "delete_module": 176, "kexec_load": 246, "kexec_file_load": 320, "iopl": 172,
        "ioperm": 173, "swapon": 167, "swapoff": 168, "acct": 163, "quotactl": 179, "syslog": 103,
        "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452, "chown": 92, "fchown": 93, "lchown": 94,
        "fchownat": 260, "utime": 132, "utimes": 235, "futimesat": 261, "utimensat": 280, "setxattr": 188,
        "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199,
        "setxattrat": 463, "removexattrat": 466, "file_setattr": 469, "open_tree_attr": 467, "shmget": 29,
        "shmat": 30, "shmctl": 31, "shmdt": 67, "semget": 64, "semop": 65, "semctl": 66, "semtimedop": 220,
        "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "mq_open": 240, "mq_unlink": 241,
        "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244, "mq_getsetattr": 245, "fanotify_init": 300,
        "fanotify_mark": 301, "inotify_init": 253, "inotify_init1": 294, "inotify_add_watch": 254,
        "prlimit64": 302, "fcntl": 72, "ioctl": 16,
    },
    "aarch64": {  # only the *at forms of the file calls, and clone for every fork
        "socket": 198, "socketpair": 199, "execve": 221, "execveat": 281, "clone": 220, "clone3": 435,
        "setsid": 157, "setpgid": 154, "unshare": 97, "setns": 268, "kill": 129, "tkill": 130, "tgkill": 131,
        "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240, "pidfd_send_signal": 424, "pidfd_open": 434,
        "pidfd_getfd": 438, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
        "process_madvise": 440, "kcmp": 272, "get_robust_list": 100, "setpriority": 140, "sched_setaffinity": 122,
        "sched_setscheduler": 119, "sched_setparam": 118, "sched_setattr": 274, "ioprio_set": 30,
        "migrate_pages": 238, "move_pages": 239, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "open_tree": 428, "move_mount": 429,
        "mount_setattr": 442, "open_by_handle_at": 265, "name_to_handle_at": 264, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
        "keyctl": 219, "add_key": 217, "request_key": 218, "personality": 92, "reboot": 142, "init_module": 105,
        "finit_module": 273, "delete_module": 106, "kexec_load": 104, "kexec_file_load": 294, "swapon": 224,
        "swapoff": 225, "acct": 89, "quotactl": 60, "syslog": 116, "fchmod": 52, "fchmodat": 53,
        "fchmodat2": 452, "fchown": 55, "fchownat": 54, "utimensat": 88, "setxattr": 5, "lsetxattr": 6,
        "fsetxattr": 7, "removexattr": 14, "lremovexattr": 15, "fremovexattr": 16, "setxattrat": 463,
        "removexattrat": 466, "file_setattr": 469, "open_tree_attr": 467, "shmget": 194, "shmat": 196,
        "shmctl": 195, "shmdt": 197, "semget": 190, "semop": 193, "semctl": 191, "semtimedop": 192, "msgget": 186,
        "msgsnd": 189, "msgrcv": 188, "msgctl": 187, "mq_open": 180, "mq_unlink": 181, "mq_timedsend": 182,
        "mq_timedreceive": 183, "mq_notify": 184, "mq_getsetattr": 185, "fanotify_init": 262,
        "fanotify_mark": 263, "inotify_init1": 26, "inotify_add_watch": 27, "prlimit64": 261, "fcntl": 25,
        "ioctl": 29,
    },
}
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000
PR_SET_DUMPABLE, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 4, 22, 38
SECCOMP_MODE_FILTER = 2
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
LD_ABS_W, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06
EPERM = 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _check(result: int) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def _syscall(nr: int, *args) -> int:
    # ints widened to long (the syscall ABI passes registers); buffers and ctypes values as they are
    return _check(_libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args]))


def _prctl(option: int, arg2: int, arg3=None) -> int:
    arg3 = ctypes.c_ulong(0) if arg3 is None else arg3  # a pointer (ctypes.byref) for PR_SET_SECCOMP
    return _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), arg3, ctypes.c_ulong(0), ctypes.c_ulong(0)))


# ---- Landlock ---------------------------------------------------------------------------------------------------

def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when it has none (not built in, or not enabled at boot)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        return _syscall(LANDLOCK_CREATE_RULESET, ctypes.c_void_p(None), 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    except OSError:
        return 0


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute ... make_sym
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def open_dirs(paths: list[str]) -> dict:
    """{real path: O_PATH fd} of the directories that exist, opened while this process may still enter them."""
    fds = {}
    for path in paths:
        try:
            fds.setdefault(os.path.realpath(path), os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        except OSError:
            continue
    return fds


def landlock_ruleset(abi: int, read_fds: dict, work_dir: str) -> int:
    """A ruleset fd allowing what the module docstring's step 3 lists; `read_fds` from open_dirs (the interpreter's
    sys.path) become read-only rules."""
    handled = _fs_rights(abi)
    words = [handled] + ([NET_TCP] if abi >= 4 else []) + ([SCOPE_ALL] if abi >= 6 else [])
    attr = ctypes.create_string_buffer(struct.pack(f"={len(words)}Q", *words))
    ruleset = _syscall(LANDLOCK_CREATE_RULESET, attr, len(words) * 8, 0)

    def allow_fd(fd: int, rights: int) -> None:
        rule = ctypes.create_string_buffer(struct.pack("=Qi", rights & handled, fd))
        _syscall(LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), 1, rule, 0)  # LANDLOCK_RULE_PATH_BENEATH

    def allow(path: str, rights: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return  # absent on this system: nothing to allow
        try:
            allow_fd(fd, rights)
        finally:
            os.close(fd)

    for fd in read_fds.values():
        allow_fd(fd, READ)
    for path in SYSTEM_LIB_DIRS:
        allow(path, READ)
    for path, rights in SYSTEM_FILES.items():
        allow(path, rights)
    # beneath the working directory everything but executing and creating or using devices
    allow(work_dir, handled & ~(FS_EXECUTE | FS_IOCTL_DEV | FS_MAKE_CHAR | FS_MAKE_BLOCK))
    return ruleset


def landlock_restrict(abi: int, ruleset: int) -> None:
    _syscall(LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), LOG_SAME_EXEC_OFF if abi >= 7 else 0)
    os.close(ruleset)


# ---- uid drop ---------------------------------------------------------------------------------------------------

def drop_root() -> None:
    os.setgroups([])
    os.setresgid(SANDBOX_GID, SANDBOX_GID, SANDBOX_GID)
    os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    if os.getresuid() != (SANDBOX_UID,) * 3 or os.getresgid() != (SANDBOX_GID,) * 3 or os.getgroups():
        raise OSError("the uid/gid did not change")


def rebase_imports(dir_fds: dict) -> None:
    """Point sys.path and already-imported packages at /proc/self/fd/N. After the uid drop the standard library may
    sit under a directory nobody cannot enter (pyenv under /root, mode 700); a directory fd opened while still root
    reaches it without walking the parents, and Landlock still checks every file opened through it."""
    def rebase(path: str) -> str:
        real = os.path.realpath(path)
        for root in sorted(dir_fds, key=len, reverse=True):
            if real == root or real.startswith(root + os.sep):
                return f"/proc/self/fd/{dir_fds[root]}" + real[len(root):]
        return path

    sys.path[:] = [rebase(p) for p in sys.path]
    for module in list(sys.modules.values()):
        search = getattr(module, "__path__", None)
        if isinstance(search, list):
            search[:] = [rebase(p) for p in search]
    sys.path_importer_cache.clear()


# ---- seccomp ----------------------------------------------------------------------------------------------------

def seccomp_arch() -> str | None:
    machine = os.uname().machine if sys.platform.startswith("linux") else ""
    return machine if machine in SYSCALLS and ctypes.sizeof(ctypes.c_void_p) == 8 else None


# Syscalls allowed or denied by an argument: (argument index, denied values of its low 32 bits, or None for "only
# 0 allowed", checked on all 64 bits). prlimit64 on pid 0 is this process's getrlimit/setrlimit; F_SETOWN, F_SETSIG,
# F_SETOWN_EX and FIOSETOWN / SIOCSPGRP would have the kernel signal another process on this file's I/O.
ARG_RULES = {"prlimit64": (0, None), "fcntl": (1, (8, 10, 15)), "ioctl": (1, (0x8901, 0x8902))}


def seccomp_program(arch: str) -> list[tuple[int, int, int, int]]:
    """Classic BPF: wrong architecture -> kill; x32 syscalls, DENIED and the ARG_RULES cases -> EPERM; everything
    else allowed. Jumps are symbolic labels until the end (BPF jumps go forward, counted from the next instruction);
    args[i] of struct seccomp_data is at offset 16 + 8 i, low word first on these little-endian architectures."""
    table = SYSCALLS[arch]
    denied = sorted({table[name] for names in DENIED.values() for name in names if name in table})
    prog = [(LD_ABS_W, 0, 0, 4), (JEQ_K, 1, 0, AUDIT_ARCH[arch]), (RET_K, 0, 0, RET_KILL_PROCESS), (LD_ABS_W, 0, 0, 0)]
    if arch == "x86_64":
        prog.append((JGE_K, "deny", 0, X32_SYSCALL_BIT))
    prog += [(JEQ_K, name, 0, table[name]) for name in ARG_RULES]
    prog += [(JEQ_K, "deny", 0, nr) for nr in denied]
    prog.append((RET_K, 0, 0, RET_ALLOW))
    labels = {}
    for name, (arg, values) in ARG_RULES.items():
        labels[name] = len(prog)
        low = 16 + 8 * arg
        if values is None:
            prog += [(LD_ABS_W, 0, 0, low), (JEQ_K, 0, "deny", 0), (LD_ABS_W, 0, 0, low + 4), (JEQ_K, 0, "deny", 0)]
        else:
            prog += [(LD_ABS_W, 0, 0, low)] + [(JEQ_K, "deny", 0, v) for v in values]
        prog.append((RET_K, 0, 0, RET_ALLOW))
    labels["deny"] = len(prog)
    prog.append((RET_K, 0, 0, RET_ERRNO | EPERM))
    resolved = []
    for i, (code, jt, jf, k) in enumerate(prog):
        jt, jf = (labels[j] - i - 1 if isinstance(j, str) else j for j in (jt, jf))
        if not (0 <= jt < 256 and 0 <= jf < 256):
            raise ValueError("BPF jump out of range")
        resolved.append((code, jt, jf, k))
    return resolved


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_install(arch: str) -> None:
    prog = seccomp_program(arch)
    filters = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
    fprog = _SockFprog(len(prog), filters)
    _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog))


# ---- the whole confinement --------------------------------------------------------------------------------------

def set_limits(cfg: dict) -> None:
    for lim, val in [(resource.RLIMIT_AS, cfg["memory_mb"] << 20), (resource.RLIMIT_CPU, cfg["cpu_s"]),
                     (resource.RLIMIT_NPROC, 0), (resource.RLIMIT_FSIZE, cfg["fsize"]), (resource.RLIMIT_CORE, 0),
                     (resource.RLIMIT_NOFILE, 64)]:
        try:
            resource.setrlimit(lim, (val, val))
        except (ValueError, OSError):
            pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big write raises OSError instead of killing us


def confine(require: dict) -> dict:
    """Apply every layer the kernel offers; returns what was applied. Raises RuntimeError if a layer in `require`
    (landlock / seccomp / uid_drop: True) did not apply."""
    applied = {"landlock": 0, "seccomp": False, "uid": os.getuid(), "uid_drop": False, "errors": {}}
    errors = applied["errors"]
    try:
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        _prctl(PR_SET_DUMPABLE, 0)
    except (OSError, AttributeError) as err:
        errors["no_new_privs"] = str(err)
    abi, ruleset = landlock_abi(), None
    dir_fds = open_dirs(sys.path)
    if abi:
        try:
            ruleset = landlock_ruleset(abi, dir_fds, os.getcwd())
        except OSError as err:
            errors["landlock"] = f"ruleset: {err}"
    else:
        errors["landlock"] = "the kernel offers no Landlock"
    if os.geteuid() == 0:
        try:
            drop_root()
            applied["uid_drop"], applied["uid"] = True, os.getuid()
            rebase_imports(dir_fds)
        except (OSError, AttributeError) as err:
            errors["uid_drop"] = f"could not switch from root to uid {SANDBOX_UID}: {err}"
    if ruleset is not None:
        try:
            landlock_restrict(abi, ruleset)
            applied["landlock"] = abi
        except OSError as err:
            errors["landlock"] = f"restrict_self: {err}"
    arch = seccomp_arch()
    if arch is None:
        errors["seccomp"] = f"no syscall table for {os.uname().machine} ({ctypes.sizeof(ctypes.c_void_p) * 8}-bit)"
    else:
        try:
            seccomp_install(arch)
            applied["seccomp"] = True
        except OSError as err:
            errors["seccomp"] = f"filter: {err}"
    missing = [k for k in ("landlock", "seccomp", "uid_drop") if require.get(k) and not applied[k]]
    if missing:
        raise RuntimeError("; ".join(errors.get(k, k) for k in missing))
    return applied


def self_check() -> dict:
    """After confine(): does each layer actually deny what it should? (the probe's evidence for sandbox_status)"""
    def denied(fn) -> bool:
        try:
            fn()
        except OSError:
            return True
        return False

    libc_socket = _libc.socket
    return {"filesystem": denied(lambda: os.close(os.open("/", os.O_RDONLY | os.O_DIRECTORY))),
            "socket": denied(lambda: _check(libc_socket(2, 1, 0))),  # AF_INET, SOCK_STREAM
            "root": os.geteuid() == 0}


# ---- running the code -------------------------------------------------------------------------------------------

def encode(value, depth: int = 0):
    """Plain built-in data as JSON (containers tagged); anything else, subclasses included, as {"opaque": type}: the
    parent compares values, so an object whose __eq__ always says yes has nothing to say yes to."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if depth < 32:
        if kind is list:
            return [encode(v, depth + 1) for v in value]
        if kind in (tuple, set, frozenset):
            return {kind.__name__: [encode(v, depth + 1) for v in value]}
        if kind is dict:
            return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
        if kind is bytes:
            return {"bytes": value.hex()}
        if kind is complex:
            return {"complex": [value.real, value.imag]}
    return {"opaque": kind.__name__[:80]}


def run(cfg: dict, emit) -> None:
    import builtins

    def error(e: BaseException) -> str:
        return (type(e).__name__ + (f": {e}" if str(e) else ""))[:300]

    ns = {"__name__": "solution", "__builtins__": builtins}
    try:
        exec(compile(cfg["code"], "solution.py", "exec"), ns)
    except BaseException as e:  # SystemExit too: leaving early is a failure, not a way out
        emit(event="load_error", error=error(e))
        return
    if not callable(ns.get(cfg["function"])):
        emit(event="load_error", error=f"function {cfg['function']}() is not defined")
        return
    for i, test in enumerate(cfg["tests"]):
        emit(event="start", i=i)
        try:
            if "stmt" in test:
                exec(compile(test["stmt"], f"test_{i + 1}", "exec"), ns)
                emit(event="ok", i=i)
                continue
            for k, source in enumerate(test["exprs"]):
                value = eval(compile(source, f"test_{i + 1}", "eval"), ns)
                emit(event="value", i=i, k=k, value=encode(value), truthy=bool(value))
        except BaseException as e:
            emit(event="error", i=i, error=error(e))
    emit(event="done")


def main() -> None:
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    set_limits(cfg)
    events_fd = cfg["events_fd"]

    def emit(**event) -> None:
        try:
            os.write(events_fd, (json.dumps(event) + "\n").encode())
        except (OSError, ValueError, TypeError):
            pass  # file size limit, or a value json cannot write: the parent sees it missing

    try:
        applied = confine(cfg["require"])
    except Exception as err:  # whatever went wrong, the code must not run half-confined
        emit(event="setup_error", error=f"{type(err).__name__}: {err}")
        os._exit(SETUP_FAILED)
    emit(event="layers", **applied)
    if cfg.get("probe"):
        emit(event="probe", **self_check())
        return
    run(cfg, emit)


if __name__ == "__main__":
    main()

"""Students' notebooks run in a sandbox: a fresh kernel that sees no answer and no one's work.

A student's kernel is untrusted: it can patch anything in its own process, so nothing it
computes is a verdict (see :mod:`ptheory_grading.autograde`), and it must not be able to
read what would help it. nbgrader starts each submission's kernel through
:class:`SandboxKernelManager`, which wraps the kernel in bubblewrap (``bwrap``):

- **What it sees.** A fresh root with only the system's ``/usr`` and ``/etc`` (read-only),
  the Python installation (its own site-packages hidden), and :func:`kernel_environment`:
  the packages of the grading
  environment *without* ``ptheory_grading`` and with the student's own wheel of
  ``ptheory``. The course folder (``source/``, ``submitted/``, the gradebook), other
  students' work, the repository (chapters with solutions, graders, tests) and every home
  folder are simply absent.
- **Who it is.** As root, the kernel drops to the unprivileged user ``nobody`` (no
  capabilities, no new privileges); run by another user, bwrap makes an unprivileged user
  namespace.
- **Limits.** No network (an empty network namespace), its own process and IPC
  namespaces, a size-limited private ``/tmp`` and working folder (tmpfs) as its only
  writable places, an address-space limit, a CPU-time limit, a file-size limit and a
  process limit (rlimits, which hold *per process*: each forked child gets its own), a
  watchdog on the memory of all the kernel's processes together (it stops the kernel
  past ``tree_memory_limit``, so forked children cannot add up their limits), and
  nbgrader's time limits per cell and per notebook (see
  :class:`ptheory_grading.autograde.SandboxedExecute` for what happens past them).
- **How it talks.** The kernel's sockets are Unix sockets (ZeroMQ's IPC transport) in a
  private folder, not TCP ports: an empty network namespace has no route to the grader.

``bwrap`` comes from the Debian package ``bubblewrap``; :func:`require_bwrap` says so when
it is missing, and grading refuses to run without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Float, Integer, Unicode

__all__ = [
    "SandboxKernelManager",
    "SandboxUnavailable",
    "bwrap_command",
    "kernel_environment",
    "require_bwrap",
]

NOBODY = 65534
"""The user (and group) a kernel runs as when the grader is root."""

HOME = "/home/student"
"""The kernel's working folder inside the sandbox (a size-limited tmpfs)."""

_EXCLUDED_PREFIXES = ("ptheory", "__editable__", "_ptheory")
"""Site-packages entries the students' environment never gets: the book's packages (the
student's wheel brings ``ptheory``) and editable-install hooks into the repository."""


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run here (no bubblewrap, or no namespaces)."""


def require_bwrap() -> str:
    """The path of ``bwrap``, or :class:`SandboxUnavailable` saying how to get it."""
    found = os.environ.get("PTHEORY_BWRAP") or shutil.which("bwrap")
    if not found:
        raise SandboxUnavailable(
            "grading runs every submission in a sandbox made with bubblewrap, which is not "
            "installed: apt-get install bubblewrap (Linux only)"
        )
    return found


def unavailable_reason() -> str | None:
    """Why the sandbox cannot run on this machine (no Linux, no bubblewrap, no user
    namespaces), or ``None`` when it can."""
    if not sys.platform.startswith("linux"):
        return "the grading sandbox needs Linux"
    try:
        bwrap = require_bwrap()
    except SandboxUnavailable as missing:
        return str(missing)
    try:
        probe = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "true"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as error:  # PTHEORY_BWRAP names nothing runnable
        return f"bubblewrap at {bwrap} cannot run: {error}"
    if probe.returncode != 0:
        return f"bubblewrap cannot make namespaces here: {probe.stderr.strip()}"
    return None


# ------------------------------------------------------------------ the students' Python
def _wheel_digest(wheel: Path) -> str:
    return hashlib.sha256(wheel.read_bytes()).hexdigest()


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system: copy
        shutil.copy2(source, target)


def kernel_environment(wheel: Path, target: Path, site: Path | None = None) -> Path:
    """A Python environment for students' kernels in ``target``; returns its ``python``.

    It holds every package of ``site`` (default: this environment's site-packages),
    hard-linked where it can be, except ``ptheory`` and ``ptheory_grading`` (and
    editable-install hooks into the repository), and the student's wheel of ``ptheory``
    unpacked. Rebuilt only when the wheel changes.
    """
    wheel, target = Path(wheel).resolve(), Path(target).resolve()
    site = Path(site or sysconfig.get_paths()["purelib"]).resolve()
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    python = target / "bin" / "python"
    stamp = target / ".ptheory-kernel.json"
    wanted = {"wheel": wheel.name, "sha256": _wheel_digest(wheel), "site": str(site)}
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted and python.exists():
        return python
    shutil.rmtree(target, ignore_errors=True)
    base = Path(getattr(sys, "_base_executable", sys.executable))
    (target / "bin").mkdir(parents=True)
    home = Path(sys.base_prefix) / "bin"
    (target / "pyvenv.cfg").write_text(
        f"home = {home}\ninclude-system-site-packages = false\n"
        f"version = {'.'.join(map(str, sys.version_info[:3]))}\n"
    )
    python.symlink_to(base.resolve())
    packages = target / "lib" / version / "site-packages"
    packages.mkdir(parents=True)
    for entry in sorted(site.iterdir()):
        name = entry.name
        if name.lower().startswith(_EXCLUDED_PREFIXES) or name.endswith(".egg-link"):
            continue
        if entry.suffix == ".pth" and "ptheory" in entry.read_text(errors="replace"):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, packages / name, copy_function=_link_or_copy, symlinks=True)
        else:
            _link_or_copy(str(entry), str(packages / name))
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(packages)
    stamp.write_text(json.dumps(wanted) + "\n")
    return python


# ------------------------------------------------------------------ the sandbox
def _ancestors(path: Path) -> list[Path]:
    return [p for p in reversed(path.parents) if str(p) != "/"]


def bwrap_command(
    bwrap: str,
    *,
    readable: list[Path],
    private: Path,
    tmp_bytes: int,
    hidden: tuple[Path, ...] = (),
) -> list[str]:
    """The ``bwrap`` arguments of a sandbox that sees the system, ``readable`` (read-only)
    and ``private`` (read-write, the kernel's sockets), and nothing else; ``hidden``
    folders inside those are covered by an empty tmpfs."""
    cmd = [bwrap, "--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc"]
    cmd += ["--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    cmd += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
    cmd += ["--dev", "/dev", "--proc", "/proc"]
    cmd += ["--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    cmd += ["--perms", "0755", "--dir", "/home"]
    cmd += ["--perms", "0777", "--size", str(tmp_bytes), "--tmpfs", HOME]
    made: set[Path] = {Path("/tmp"), Path("/home"), Path(HOME), Path("/usr"), Path("/etc")}
    for path in [*readable, private]:
        for parent in _ancestors(path):
            # parents under /tmp are made in the sandbox's own /tmp (a tmpfs), searchable
            if parent not in made and not str(parent).startswith(("/usr/", "/etc/")):
                cmd += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        if path not in made:
            kind = "--bind" if path == private else "--ro-bind"
            cmd += [kind, str(path), str(path)]
            made.add(path)
    for path in hidden:
        if path.is_dir():
            cmd += ["--perms", "0555", "--size", "4096", "--tmpfs", str(path)]
    cmd += ["--chdir", HOME]
    return cmd


# Runs inside the sandbox, before the kernel: limits, then the unprivileged user, then the
# kernel itself. argv: uid gid address-space cpu-seconds file-bytes processes files -- cmd
_LAUNCHER = """\
import os, resource, shutil, sys
uid, gid, mem, cpu, fsize, nproc = (int(a) for a in sys.argv[1:7])
files, cmd = sys.argv[7], sys.argv[9:]
for limit, value in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_CPU, cpu),
                     (resource.RLIMIT_FSIZE, fsize), (resource.RLIMIT_NPROC, nproc),
                     (resource.RLIMIT_CORE, 0)):
    resource.setrlimit(limit, (value, value))
if os.path.isdir(files):
    shutil.copytree(files, os.getcwd(), dirs_exist_ok=True)
if os.getuid() == 0:
    for path in [os.getcwd()] + [os.path.join(r, n) for r, ds, fs in os.walk(os.getcwd())
                                  for n in ds + fs]:
        os.lchown(path, uid, gid)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("the sandbox could not drop root")
# The kernel's parent inside the sandbox is its init (pid 1), which ipykernel's parent
# poller takes for a dead parent; bwrap --die-with-parent ties the kernel to the grader.
os.environ.pop("JPY_PARENT_PID", None)
os.execv(cmd[0], cmd)
"""


class SandboxKernelManager(AsyncKernelManager):
    """nbgrader's kernel manager for students' notebooks: each kernel in its own sandbox.

    Configure it as ``c.SandboxedExecute.kernel_manager_class`` (``nbgrader_config.py``,
    written by ``scripts/course.py``) with ``c.SandboxKernelManager.kernel_python``.
    """

    kernel_python = Unicode(
        "", config=True, help="The students' environment's python (kernel_environment)."
    )
    memory_limit = Integer(4 << 30, config=True, help="Address-space limit per process, bytes.")
    tree_memory_limit = Integer(
        0,
        config=True,
        help="Memory (resident, not shared with files) of all the kernel's processes "
        "together, bytes; 0: memory_limit. The watchdog stops the kernel past it.",
    )
    watch_interval = Float(0.1, config=True, help="Seconds between the watchdog's looks.")
    cpu_limit = Integer(900, config=True, help="CPU-time limit per process, seconds.")
    file_limit = Integer(64 << 20, config=True, help="Largest file the kernel may write.")
    tmp_limit = Integer(256 << 20, config=True, help="Size of the private /tmp and home.")
    process_limit = Integer(512, config=True, help="Processes and threads of the user.")
    private_root = Unicode(
        "", config=True, help="Where private folders are made (default: the system's tmp)."
    )

    _private: Path | None = None
    _watch: threading.Event | None = None
    stop_reason: str | None = None
    """Why the watchdog stopped the kernel (None while it has not)."""

    def _python(self) -> Path:
        if not self.kernel_python:
            raise SandboxUnavailable("SandboxKernelManager.kernel_python is not configured")
        return Path(self.kernel_python)

    async def _async_pre_start_kernel(self, **kw: Any) -> Any:
        require_bwrap()
        root = self.private_root or tempfile.gettempdir()
        self._private = Path(tempfile.mkdtemp(prefix="ptheory-kernel-", dir=root))
        files = self._private / "files"
        files.mkdir()
        origin = kw.get("cwd")
        if origin and Path(origin).is_dir():  # the assignment's files other than notebooks
            for entry in Path(origin).iterdir():
                if entry.suffix != ".ipynb" and entry.is_file():
                    shutil.copy2(entry, files / entry.name)
        if os.geteuid() == 0:
            for path in (self._private, files, *files.iterdir()):
                os.chown(path, NOBODY, NOBODY)
        self.transport = "ipc"
        self.ip = str(self._private / "kernel")
        self.connection_file = str(self._private / "connection.json")
        kw["cwd"] = str(self._private)
        kw["env"] = self._environment()
        return await super()._async_pre_start_kernel(**kw)

    def _environment(self) -> dict[str, str]:
        keep = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
        env = {k: v for k, v in os.environ.items() if k in keep or k.startswith("OPENBLAS")}
        env.update(
            PATH=f"{self._python().parent}:/usr/bin:/bin",
            HOME=HOME,
            TMPDIR="/tmp",
            MPLBACKEND="module://matplotlib_inline.backend_inline",
            MPLCONFIGDIR=f"{HOME}/.config/matplotlib",
            PYTHONNOUSERSITE="1",
            PYTHONDONTWRITEBYTECODE="1",
        )
        return env

    def write_connection_file(self, **kwargs: Any) -> None:
        super().write_connection_file(**kwargs)
        if os.geteuid() == 0 and self._private is not None:
            os.chown(self.connection_file, NOBODY, NOBODY)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        python = self._python()
        assert self._private is not None
        env_root = python.parent.parent
        readable = sorted({Path(sys.base_prefix).resolve(), env_root.resolve()})
        # The base installation's own packages (whatever was installed there by hand, the
        # graders included) are not the students' environment's: not even readable.
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        base_site = Path(sys.base_prefix).resolve() / "lib" / version / "site-packages"
        bwrap = bwrap_command(
            require_bwrap(),
            readable=readable,
            private=self._private,
            tmp_bytes=self.tmp_limit,
            hidden=(base_site,),
        )
        limits = [self.memory_limit, self.cpu_limit, self.file_limit, self.process_limit]
        launcher = [str(python), "-I", "-c", _LAUNCHER, str(NOBODY), str(NOBODY)]
        launcher += [str(v) for v in limits] + [str(self._private / "files"), "--"]
        kernel = [str(python), "-m", "ipykernel_launcher", "-f", self.connection_file]
        return bwrap + launcher + kernel + list(extra_arguments or [])

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        await super()._async_launch_kernel(kernel_cmd, **kw)
        pid = getattr(self.provisioner, "pid", None)
        if pid is not None:
            self.stop_reason = None
            self._watch = threading.Event()
            limit = self.tree_memory_limit or self.memory_limit
            watcher = threading.Thread(
                target=_watch_memory,
                args=(self, pid, limit, self.watch_interval, self._watch),
                name="ptheory-sandbox-watchdog",
                daemon=True,
            )
            watcher.start()

    async def _async_interrupt_kernel(self) -> None:
        """Interrupt through the control channel: a signal to the process group would
        reach bubblewrap, not only the kernel."""
        msg = self.session.msg("interrupt_request", content={})
        self._connect_control_socket()
        self.session.send(self._control_socket, msg)

    interrupt_kernel = _async_interrupt_kernel

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        if self._watch is not None:
            self._watch.set()
            self._watch = None
        await super()._async_cleanup_resources(restart=restart)
        if self._private is not None and not restart:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None


def _private_memory(procs: list[Any]) -> int:
    """The resident memory of ``procs`` (``psutil.Process``) that is not shared with files
    or shared memory: anonymous memory, read from ``/proc/<pid>/statm`` (cheap). Pages a
    forked child still shares with its parent count twice: an overestimate."""
    import psutil

    total = 0
    for proc in procs:
        try:
            info = proc.memory_info()
        except psutil.Error:  # it ended meanwhile
            continue
        total += max(0, info.rss - getattr(info, "shared", 0))
    return total


def _watch_memory(
    km: SandboxKernelManager,
    pid: int,
    limit: int,
    interval: float,
    done: threading.Event,
    rescan: float = 1.0,
) -> None:
    """Stop the kernel (``pid``, bubblewrap) and everything in it once their memory together
    passes ``limit``; the reason is left in ``km.stop_reason``. The processes are looked
    for every ``rescan`` seconds (a walk of the whole process table), their memory every
    ``interval``."""
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    procs: list[Any] = [root]
    scanned = 0.0
    while not done.wait(interval):
        try:
            if not root.is_running() or root.status() == psutil.STATUS_ZOMBIE:
                return  # the kernel has ended
            if time.monotonic() - scanned >= rescan:
                procs, scanned = [root, *root.children(recursive=True)], time.monotonic()
        except psutil.Error:
            return
        if _private_memory(procs) <= limit:
            continue
        km.stop_reason = (
            f"the kernel's processes used more than {limit / 2**30:.3g} GiB of memory "
            "together: the kernel was stopped"
        )
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            pass
        for proc in reversed(procs):  # the children first, then bubblewrap
            try:
                proc.send_signal(signal.SIGKILL)
            except psutil.Error:
                pass
        return

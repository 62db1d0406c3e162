"""Detached service processes: pid files, liveness, stop, port checks, log tails."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bonito_logs.stack.errors import StackError


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    try:
        pid = int(text)
    except ValueError:
        return None
    return pid if pid > 0 else None


def write_pid(pid_file: Path, pid: int) -> None:
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(f"{pid}\n")
    tmp.replace(pid_file)


def is_alive(pid: int, marker: str | None = None) -> bool:
    """Whether ``pid`` runs (and, given ``marker``, its command line contains it).

    The marker guards against a stale pid file whose pid the OS gave to another program.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if _is_zombie(pid):
        return False
    if marker is None:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return True  # no /proc: trust the pid
    return marker.encode() in cmdline


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def running_pid(pid_file: Path, marker: str) -> int | None:
    """The pid recorded in ``pid_file`` if that process still runs; a stale file is removed."""
    pid = read_pid(pid_file)
    if pid is None:
        return None
    if is_alive(pid, marker):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def spawn(
    cmd: Sequence[str],
    *,
    log_file: Path,
    cwd: Path,
    env: Mapping[str, str],
    user: str | None = None,
) -> subprocess.Popen:
    """Start ``cmd`` in its own session, detached from us, output appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out:
        out.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(cmd)}\n".encode())
        out.flush()
        kwargs: dict = {}
        if user is not None:
            kwargs.update(user=user, group=_primary_group(user), extra_groups=[])
        return subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            **kwargs,
        )


def _primary_group(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def stop(pid: int, *, timeout_s: float = 30.0, marker: str | None = None) -> bool:
    """SIGTERM the process group of ``pid``, wait, then SIGKILL. True if it had to be killed."""
    _signal_group(pid, signal.SIGTERM)
    if wait_gone(pid, timeout_s, marker):
        return False
    _signal_group(pid, signal.SIGKILL)
    wait_gone(pid, 10.0, marker)
    return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # we start services as session (and group) leaders
    except ProcessLookupError:
        return
    except PermissionError:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return


def wait_gone(pid: int, timeout_s: float, marker: str | None = None) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reap(pid)
        if not is_alive(pid, marker):
            return True
        time.sleep(0.2)
    return not is_alive(pid, marker)


def reap(pid: int) -> None:
    """Collect our own exited child so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on ``host:port`` (we could not bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return "(no log file yet)"
    return "\n".join(data.splitlines()[-lines:])


def find_java() -> tuple[Path, Path]:
    """(java executable, its JAVA_HOME), resolving symlinks such as /usr/bin/java."""
    found = shutil.which("java")
    if found is None:
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").exists():
            found = str(Path(java_home) / "bin" / "java")
    if found is None:
        raise StackError(
            "Java is not installed (no `java` on PATH); Kafka and OpenSearch need Java 17+ "
            "(Debian: apt-get install openjdk-17-jre-headless)"
        )
    java = Path(found).resolve()
    return java, java.parent.parent


def java_major_version(java: Path) -> int:
    proc = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=60)
    return parse_java_version(proc.stderr + proc.stdout)


def parse_java_version(output: str) -> int:
    """Major version from ``java -version`` output (``"17.0.15"`` → 17, ``"1.8.0"`` → 8)."""
    for line in output.splitlines():
        if "version" in line and '"' in line:
            version = line.split('"')[1]
            parts = version.split(".")
            major = int(parts[1]) if parts[0] == "1" and len(parts) > 1 else int(parts[0].split("-")[0])
            return major
    raise StackError(f"cannot read the Java version from: {output.strip()[:200]}")

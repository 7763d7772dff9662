"""A real Dovecot IMAP server for tests: its own config in a temp dir, loopback only, one mailbox user.

Verified facts (STACK-NOTES): Debian's ``dovecot-imapd`` 2.3 runs with ``-c FILE -F`` on a free port. As root the
mail files belong to ``nobody`` (Dovecot refuses mail access as uid 0); otherwise to the current user, with
chroots off."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
#: Dovecot's local delivery agent: what an MTA (Postfix's mailbox_command) runs to put a message in a mailbox.
LDA = "/usr/lib/dovecot/dovecot-lda"


@dataclass
class Mailbox:
    host: str
    port: int
    user: str
    password: str
    config: Path | None = None  # the server's dovecot.conf (``deliver`` needs it)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(root: Path, port: int, uid: int, gid: int, owner: str, as_root: bool) -> str:
    users = "" if as_root else f"""
default_login_user = {owner}
default_internal_user = {owner}
default_internal_group = {pwd.getpwuid(uid).pw_name if not as_root else 'nogroup'}
service imap-login {{
  chroot =
}}
service auth {{
  user = {owner}
}}
service anvil {{
  chroot =
}}
"""
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
last_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
{users}
"""


def available() -> str | None:
    """None when Dovecot can run here, else why not (the test is skipped with that reason)."""
    if not os.path.exists(DOVECOT):
        return "dovecot is not installed (scripts/system-deps.sh installs dovecot-imapd as root)"
    return None


def deliver(box: Mailbox, user: str, raw: bytes, *, envelope_from: str) -> None:
    """Deliver ``raw`` into ``user``'s INBOX with Dovecot's LDA, as an MTA does (``-f``: the envelope sender);
    raises when Dovecot refuses it (unknown user: exit code 67, EX_NOUSER)."""
    assert box.config is not None
    done = subprocess.run([LDA, "-c", str(box.config), "-d", user, "-f", envelope_from], input=raw,
                          capture_output=True, timeout=60)
    if done.returncode != 0:
        raise LookupError(f"dovecot-lda exit {done.returncode}: {done.stderr.decode(errors='replace')[:300]}")


@contextlib.contextmanager
def running(tmp: Path, *, user: str = "help", password: str = "s3cret-imap",
            others: dict[str, str] | None = None) -> Iterator[Mailbox]:
    """Start Dovecot on a free loopback port with one user (``others``: more users and their passwords, each with
    a mailbox of their own); stop it (by its own pid) afterwards."""
    as_root = os.geteuid() == 0
    owner = "nobody" if as_root else pwd.getpwuid(os.geteuid()).pw_name
    entry = pwd.getpwnam(owner)
    # Dovecot's unprivileged auth and mail processes must reach these files: a fresh directory directly in the
    # system temp dir (pytest's tmp_path sits under a 0700 directory of the user running the tests).
    root = Path(tempfile.mkdtemp(prefix="groundcrew-dovecot-"))
    (tmp / "dovecot-root").write_text(str(root))
    accounts = {user: password, **(others or {})}
    for sub in ("run", "state", *(f"home/{name}" for name in accounts)):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "users").write_text("".join(f"{name}:{{PLAIN}}{secret}\n" for name, secret in accounts.items()))
    if as_root:
        os.chmod(root, 0o755)
        for path in (root / "home", *(root / "home" / name for name in accounts)):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, port, entry.pw_uid, entry.pw_gid, owner, as_root))
    proc = subprocess.Popen([DOVECOT, "-c", str(conf), "-F"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                raise RuntimeError(f"dovecot exited: {proc.stdout.read().decode() if proc.stdout else ''} {log}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("dovecot did not start listening within 30 s")
            time.sleep(0.1)
        yield Mailbox("127.0.0.1", port, user, password, conf)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)

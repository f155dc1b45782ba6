"""A ZooKeeper member's pod, faked for its scripts (tests/scripts): a file system with a hostname
file, config, data and data log dirs, fake zkServer.sh and zkCli.sh, and a fake four-letter-word
server on localhost."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from statefulkit.args.zookeeper import ZooKeeperArgs
from statefulkit.render.zookeeper import render_config_files

PASSWORD = "s3cret-super-pw"  # noqa: S105 - a test-only password


def conf_answer(
    voters: list[int], version: str = "100000003", observers: tuple[int, ...] = (), server_id: int = 2
) -> str:
    """What `conf` answers on serving member `server_id`: its settings, then the committed membership."""
    lines = ["clientPort=2181", f"serverId={server_id}", "electionPort=3888", "membership: "]
    for i in sorted([*voters, *observers]):
        role = "observer" if i in observers else "participant"
        lines.append(f"server.{i}=zk-{i - 1}.zk-headless.team-a.svc.cluster.local:2888:3888:{role};0.0.0.0:2181")
    return "\n".join(lines) + f"\nversion={version}"


NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"


class FourLetterServer:
    """Answers every connection with a reply per four-letter word (a string, or a function of nothing
    for an answer that changes), then closes, as ZooKeeper does."""

    def __init__(self, answers: dict[str, str | Callable[[], str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []  # every word asked, in order
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                word = conn.recv(4).decode()
                self.asked.append(word)
                answer = self.answers.get(word, "")
                conn.sendall((answer() if callable(answer) else answer).encode())

    def close(self) -> None:
        self.sock.close()


# zkCli.sh stand-in: logs its arguments and standard input, then answers as the next line of
# zkcli-outcomes says: `busy` (another reconfig runs), `disabled` (an ensemble without reconfig), `ok`
# (committed; creates the `committed` file, which the fake server's conf answer follows) or anything
# else (a failure).
FAKE_ZKCLI = """#!/usr/bin/env bash
root=@ROOT@
{ printf 'ARGS %s\\n' "$*"; cat; printf 'END\\n'; } >>"$root/zkcli-calls"
n=$(grep -c '^END$' "$root/zkcli-calls")
outcome=$(sed -n "${n}p" "$root/zkcli-outcomes" 2>/dev/null)
case "$outcome" in
busy) echo "KeeperErrorCode = ReconfigInProgress"; exit 1 ;;
disabled) echo "KeeperErrorCode = Reconfig is disabled"; exit 1 ;;
ok) touch "$root/committed"; printf 'Committed new configuration:\\nversion=200000002\\n'; exit 0 ;;
*) echo "KeeperErrorCode = ConnectionLoss"; exit 1 ;;
esac
"""


# zkServer.sh stand-in: prints what it got, the config and the membership file it points at. It
# marks the member as leaving, so the start script's join helper ends (in a pod, with the container).
FAKE_ZKSERVER = """#!/usr/bin/env bash
echo "zkServer.sh $*"
echo "SERVER_JVMFLAGS=$SERVER_JVMFLAGS"
cat "$2"
echo "--- membership"
cat "$(sed -n 's/^dynamicConfigFile=//p' "$2")"
touch "$(dirname "$2")/statefulkit-leaving"
"""


@dataclass
class FakePod:
    """A pod's file system for the scripts: hostname file, config, data and data log dirs, fake tools."""

    root: Path

    def __post_init__(self) -> None:
        for d in ("bin", "config", "data", "datalog"):
            (self.root / d).mkdir()
        for tool, text in (("zkServer.sh", FAKE_ZKSERVER), ("zkCli.sh", FAKE_ZKCLI.replace("@ROOT@", str(self.root)))):
            (self.root / "bin" / tool).write_text(text)
            (self.root / "bin" / tool).chmod(0o755)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def install(self, name: str, spec: ZooKeeperArgs, client_port: int | None = None) -> None:
        """The rendered ConfigMap files, their paths (and the client port, for a fake server) pointed
        at this fake pod."""
        paths = {"DATA_DIR": "data", "CONFIG_DIR": "config", "DATA_LOG_DIR": "datalog"}
        for file, rendered in render_config_files(name, spec).items():
            text = rendered
            for key, value in paths.items():
                text = re.sub(rf"^{key}=/\S+$", f"{key}={self.root / value}", text, flags=re.M)
            text = re.sub(r"^HOSTNAME_FILE=.*$", f"HOSTNAME_FILE={self.root / 'hostname'}", text, flags=re.M)
            if client_port is not None:
                text = re.sub(r"^PORT=\d+$", f"PORT={client_port}", text, flags=re.M)
            (self.root / "config" / file).write_text(text)

    def run(
        self,
        script: str,
        hostname: str,
        *,
        namespace: str | None = "team-a",
        password: str | None = PASSWORD,
        bootstrap_replicas: str | None = "3",
        timeout: float = 30,
        args: tuple[str, ...] = (),
    ) -> subprocess.CompletedProcess[str]:
        (self.root / "hostname").write_text(hostname + "\n")
        bash = shutil.which("bash")
        assert bash is not None
        env = {"PATH": f"{self.root / 'bin'}:/usr/bin:/bin"}
        for key, value in (
            ("POD_NAMESPACE", namespace),
            ("ZK_SUPER_PASSWORD", password),
            ("BOOTSTRAP_REPLICAS", bootstrap_replicas),
        ):
            if value is not None:
                env[key] = value
        return subprocess.run(
            [bash, str(self.root / "config" / script), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def zkcli_calls(self) -> list[tuple[str, list[str]]]:
        """(arguments, standard input lines) of every zkCli.sh run."""
        path = self.root / "zkcli-calls"
        text = path.read_text() if path.exists() else ""
        calls = []
        for block in text.split("END\n")[:-1]:
            args, *stdin = block.splitlines()
            calls.append((args.removeprefix("ARGS "), stdin))
        return calls

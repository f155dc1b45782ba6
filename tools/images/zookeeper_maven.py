"""ZooKeeper from its Maven jars (tools/zookeeper-jars), for a release Debian does not package (3.9:
the AdminServer's streaming snapshot command): the zkServer.sh and zkCli.sh that stand for the
official image's, and their logging. One place for the image tools/images/build makes
(statefulkit.local/zookeeper-maven:3.9) and the test shims of tests/support/zk.py.

Debian's 3.8 scripts do not carry a 3.9 class path: their zkEnv.sh fixes CLASSPATH to Debian's
zookeeper.jar (`zkServer.sh version` answers 3.8.0 whatever JVMFLAGS says), they pass JVMFLAGS to java
unquoted (a `lib/*` entry is globbed into words, which java takes for its main class), and their
logging is log4j's, while 3.9 logs through logback (with no logback.xml: every DEBUG line). So these
wrappers run java themselves, for what the pods and the image contract run.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSION = "3.9.5"
# Console logging in the layout of Debian's log4j.properties; the threshold is a system property, so
# that zkCli.sh prints warnings only.
LOGBACK = """<configuration>
  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{ISO8601} - %-5p [%t:%C{0}@%L] - %m%n</pattern></encoder>
  </appender>
  <root level="${zookeeper.console.threshold:-INFO}"><appender-ref ref="CONSOLE"/></root>
</configuration>
"""
# As the official zkEnv.sh: the default heap first, then the caller's flags (the last -Xmx wins),
# split into words as zkServer.sh splits them, never globbed (set -f).
SERVER = """#!/bin/sh
# zkServer.sh of ZooKeeper {version} from its Maven jars (tools/images/zookeeper_maven.py): start-foreground
# [zoo.cfg] and version, with ZK_SERVER_HEAP, SERVER_JVMFLAGS and JVMFLAGS as zkEnv.sh reads them.
set -f
# shellcheck disable=SC2086 # the flags are words
case "$1" in
start-foreground)
  exec java -cp '{classpath}' -Xmx"${{ZK_SERVER_HEAP:-1000}}"m -XX:+ExitOnOutOfMemoryError \\
    {flags}$SERVER_JVMFLAGS $JVMFLAGS org.apache.zookeeper.server.quorum.QuorumPeerMain "${{2:-{conf}/zoo.cfg}}" ;;
version) exec java -cp '{classpath}' org.apache.zookeeper.version.VersionInfoMain ;;
*) echo "zkServer.sh: ZooKeeper {version} from Maven jars runs start-foreground [zoo.cfg] and version only" >&2
  exit 2 ;;
esac
"""
CLIENT = """#!/bin/sh
# zkCli.sh of ZooKeeper {version} from its Maven jars (tools/images/zookeeper_maven.py), with
# ZK_CLIENT_HEAP, CLIENT_JVMFLAGS and JVMFLAGS as zkEnv.sh reads them; warnings only, to the console.
set -f
# shellcheck disable=SC2086 # the flags are words
exec java -cp '{classpath}' -Dzookeeper.console.threshold=WARN -Xmx"${{ZK_CLIENT_HEAP:-256}}"m \\
  {flags}$CLIENT_JVMFLAGS $JVMFLAGS org.apache.zookeeper.ZooKeeperMain "$@"
"""


def jars() -> Path:
    """The directory of VERSION's jars (tools/zookeeper-jars: fetched once, then cached)."""
    out = subprocess.run(
        [str(ROOT / "tools/zookeeper-jars"), VERSION], capture_output=True, text=True, check=False, timeout=900
    )
    if out.returncode != 0:
        raise RuntimeError(f"tools/zookeeper-jars {VERSION} failed: {out.stderr.strip()}")
    return Path(out.stdout.strip())


def install(root: Path, *, conf: str, lib: str, bin_dir: str, jvm_flags: str = "") -> dict[str, Path]:
    """Copy the jars into `lib`, logback.xml into `conf`, zkServer.sh and zkCli.sh into `bin_dir`: each an
    absolute path as seen from `root` (an image's rootfs, or / for the host), every file readable by
    any user (the pods' uid is not the fetcher's). Returns command name -> wrapper on this machine."""
    at = {path: root / path.lstrip("/") for path in (conf, lib, bin_dir)}
    for directory in at.values():
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    for jar in sorted(jars().glob("*.jar")):
        shutil.copyfile(jar, at[lib] / jar.name)
        (at[lib] / jar.name).chmod(0o644)
    (at[conf] / "logback.xml").write_text(LOGBACK)
    (at[conf] / "logback.xml").chmod(0o644)
    fields = {
        "version": VERSION,
        "classpath": f"{conf}:{lib}/*",
        "conf": conf,
        "flags": f"{jvm_flags} " * bool(jvm_flags),
    }
    wrappers = {}
    for name, template in (("zkServer.sh", SERVER), ("zkCli.sh", CLIENT)):
        wrappers[name] = at[bin_dir] / name
        wrappers[name].write_text(template.format(**fields))
        wrappers[name].chmod(0o755)
    return wrappers

"""Build statefulkit's local toolchain from Go modules, into a cache keyed by version.

No Pulumi CLI, plugin or Kubernetes binary can be downloaded as a release binary on the
project's machines; only package registries are reachable. So every tool is built from its
Go module with the local Go toolchain, into

    ${STATEFULKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/statefulkit}/toolchain/<tool>-<version>/bin

and reused on the next run, which then only verifies the binaries.

Usage (tools/toolchain/build is this module):
    tools/toolchain/build                  build what is missing, verify the rest
    tools/toolchain/build --only kubernetes,etcd,kwok
    tools/toolchain/build --skip pulumi-resource-kubernetes
    tools/toolchain/build --print-env      build/verify, then print only the exports
                                           (eval "$(tools/toolchain/build --print-env)")
    tools/toolchain/build --env-file       print the path of the env file and exit
    tools/toolchain/build --list           list the tools and pinned versions
    tools/toolchain/build --force          rebuild even if cached
    tools/toolchain/build --strict         exit 1 if any tool is unavailable
    tools/toolchain/build --set KEY=VALUE  override a pin from versions.env for this run

How a tool is built: the Go module proxy refuses `go install mod@version` for modules whose
go.mod has `replace` directives, so for each tool a small wrapper module is generated in
<cache>/toolchain/<tool>-<version>/src: its go.mod requires the tool's module at the pinned
version, carries over the replaces the tool needs (a replace to a local directory of the
tool's repository becomes a replace to the released module), and `go build`s the main
packages by import path, under `nice -n 10` with `go build -p 2`. The Go module and build
caches live in <cache>/go so CI reuses them. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from tools.toolchain.catalog import Tool, catalog, read_versions
from tools.toolchain.gomod import (
    BuildError,
    UnavailableError,
    download,
    log,
    parse_gomod,
    run,
    wrapper_replaces,
)

STAMP_FORMAT = 4  # bump to invalidate every cached build
MIN_GO = (1, 26)
# Exported by the env file: the bin directory of each tool that has one.
BIN_VARIABLES = {
    "pulumi": "STATEFULKIT_PULUMI_BIN",
    "kubernetes": "STATEFULKIT_KUBE_BIN",
    "etcd": "STATEFULKIT_ETCD_BIN",
    "kwok": "STATEFULKIT_KWOK_BIN",
    "kubelet": "STATEFULKIT_KUBELET_BIN",
    "coredns": "STATEFULKIT_COREDNS_BIN",
    "versitygw": "STATEFULKIT_VERSITYGW_BIN",
}


def cache_root() -> Path:
    if os.environ.get("STATEFULKIT_CACHE"):
        return Path(os.environ["STATEFULKIT_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "statefulkit"


def go_binary() -> str:
    go = os.environ.get("GO") or shutil.which("go")
    if not go:
        raise SystemExit("tools/toolchain/build: no `go` on PATH (set GO=/path/to/go); Go >= 1.26 is needed")
    return go


def go_env(cache: Path, jobs: int) -> dict[str, str]:
    env = dict(os.environ)
    # Module and build caches inside the statefulkit cache, so CI can keep them together.
    env.setdefault("GOMODCACHE", str(cache / "go" / "mod"))
    env.setdefault("GOCACHE", str(cache / "go" / "build"))
    # Never let a go.mod `toolchain` line trigger a toolchain download.
    env["GOTOOLCHAIN"] = "local"
    env["CGO_ENABLED"] = env.get("CGO_ENABLED", "0")
    # The wrapper's go.mod/go.sum are complete after `go mod tidy`, so builds are readonly;
    # -p: the machines have 2 cores shared with other work.
    flags = [f for f in env.get("GOFLAGS", "").split() if not f.startswith(("-mod=", "-p="))]
    flags += [f"-p={jobs}", "-buildvcs=false", "-trimpath"]
    env["GOFLAGS"] = " ".join(dict.fromkeys(flags))
    # GOPROXY and GOSUMDB stay as the Go defaults (or the user's): the project's machines reach
    # both. A network that only reaches the proxy needs GONOSUMDB (or GOSUMDB=off) set first.
    return env


def _make_writable(function: Any, path: str, _exc: Any) -> None:
    """Module cache files are read-only; removing a copy of them needs the owner's write bit."""
    os.chmod(os.path.dirname(path), 0o700)
    os.chmod(path, 0o700)
    function(path)


def _remove(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path, onerror=_make_writable)


class Builder:
    def __init__(self, args: argparse.Namespace, pins: dict[str, str]) -> None:
        self.args = args
        self.pins = pins
        self.cache = cache_root()
        self.root = self.cache / "toolchain"
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.go = go_binary()
        self.env = go_env(self.cache, args.jobs)
        self.tools = catalog(pins)
        self.pulumi_home = self.cache / "pulumi-home"
        self.bin_dirs: dict[str, Path] = {}
        self.results: dict[str, tuple[str, float, str]] = {}  # tool -> (status, seconds, detail)
        self.go_version = subprocess.run(
            [self.go, "env", "GOVERSION"], env=self.env, capture_output=True, text=True, check=False
        ).stdout.strip()

    def tool_dir(self, tool: Tool) -> Path:
        return self.root / f"{tool.name}-{tool.version or 'unpinned'}"

    def stamp_hash(self, tool: Tool) -> str:
        """Everything that shapes the tool's binaries: a cached build counts only while it is unchanged."""
        payload = {
            "format": STAMP_FORMAT,
            "go": self.go_version,
            "module": tool.module,
            "version": tool.version,
            "binaries": tool.binaries,
            "local_replace_version": tool.local_replace_version,
            "replace_versions": tool.replace_versions,
            "version_variables": tool.version_variables,
            "release": tool.release,
            "generate_in_copy": tool.generate_in_copy,
            "generate_env": tool.generate_env,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def check(self, tool: Tool, bindir: Path) -> None:
        env = {**self.env, "PATH": f"{bindir}{os.pathsep}{self.env.get('PATH', '')}"}
        env |= {"PULUMI_HOME": str(self.pulumi_home), "PULUMI_SKIP_UPDATE_CHECK": "true"}
        for name in tool.binaries:
            binary = bindir / name
            if not (binary.is_file() and os.access(binary, os.X_OK)):
                raise BuildError(f"missing binary {binary}")
        for command, expected in tool.checks:
            out = subprocess.run(
                [str(bindir / command[0]), *command[1:]],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            text = out.stdout + out.stderr
            if expected not in text:
                raise BuildError(f"`{' '.join(command)}` printed {text.strip()[:300]!r}, expected {expected!r}")

    def ensure(self, tool: Tool) -> None:
        """Verify the cached build of `tool`, or build it."""
        started = time.monotonic()
        directory = self.tool_dir(tool)
        bindir, stamp = directory / "bin", directory / "stamp.json"
        want = self.stamp_hash(tool)
        if not self.args.force and stamp.exists():
            try:
                data = json.loads(stamp.read_text())
                if data.get("spec") == want:
                    self.check(tool, bindir)
                    self.bin_dirs[tool.name] = bindir
                    built = f"built in {data.get('seconds', '?')}s on {data.get('built', '?')}"
                    self.results[tool.name] = ("cached", time.monotonic() - started, built)
                    log(f"{tool.name} {tool.version}: cached, verified ({time.monotonic() - started:.1f}s)")
                    return
            except (BuildError, ValueError, OSError, subprocess.TimeoutExpired) as exc:
                log(f"{tool.name}: cached build does not verify ({exc}); rebuilding")
        logpath = self.logs / f"{tool.name}-{tool.version or 'unpinned'}.log"
        log(f"{tool.name} {tool.version or '(unpinned)'}: building (log: {logpath})")
        with open(logpath, "w") as logf:
            try:
                self.build(tool, directory, logf)
                self.check(tool, bindir)
            except UnavailableError as exc:
                self.results[tool.name] = ("unavailable", time.monotonic() - started, str(exc))
                log(f"{tool.name}: UNAVAILABLE: {exc}")
                logf.write(f"\nUNAVAILABLE: {exc}\n")
                return
            except (BuildError, subprocess.TimeoutExpired) as exc:
                self.results[tool.name] = ("failed", time.monotonic() - started, str(exc).splitlines()[0][:300])
                log(f"{tool.name}: FAILED after {time.monotonic() - started:.0f}s: {str(exc)[-2000:]}")
                logf.write(f"\nFAILED: {exc}\n")
                return
        seconds = time.monotonic() - started
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        record: dict[str, Any] = {"spec": want, "tool": tool.name, "module": tool.module, "version": tool.version}
        record |= {"go": self.go_version, "seconds": round(seconds, 1), "built": now}
        stamp.write_text(json.dumps(record, indent=2) + "\n")
        self.bin_dirs[tool.name] = bindir
        self.results[tool.name] = ("built", seconds, "")
        with open(self.root / "timings.log", "a") as timings:
            timings.write(f"{now} {tool.name} {tool.version} {seconds:.1f}s {self.go_version}\n")
        log(f"{tool.name} {tool.version}: built in {seconds:.0f}s")

    def build(self, tool: Tool, directory: Path, logf: IO[str]) -> None:
        go, env = self.go, self.env
        started = time.monotonic()
        # 1. The tool's module: does the proxy have it, and what does its go.mod say?
        fetched = download(go, env, tool.module, tool.version, logf)
        gomod = parse_gomod(fetched.gomod.read_text())
        log(f"  {tool.name}: module {tool.module}@{tool.version} fetched ({time.monotonic() - started:.0f}s)")
        src = directory / "src"
        _remove(src)
        src.mkdir(parents=True)
        local_dirs: dict[str, str] = {}
        if tool.generate_in_copy:
            local_dirs[tool.module] = os.path.relpath(self.generated_copy(tool, fetched.directory, gomod, logf), src)
        # 2. The wrapper module.
        lines = [f"module statefulkit.local/toolchain/{tool.name}", "", f"go {gomod.go or '1.26'}", ""]
        lines += [f"godebug {g}" for g in gomod.godebug]
        lines += ["", f"require {tool.module} {tool.version}", ""]
        replaces = wrapper_replaces(gomod, tool.local_replace_version, local_dirs, tool.replace_versions)
        replaces += [f"{m} => {d}" for m, d in local_dirs.items() if not any(r.startswith(m + " ") for r in replaces)]
        if replaces:
            lines += ["replace (", *(f"\t{r}" for r in replaces), ")", ""]
        (src / "go.mod").write_text("\n".join(lines))
        imports = "\n".join(f'\t_ "{package}"' for package in tool.binaries.values())
        (src / "tools.go").write_text(
            "//go:build tools\n\n// Generated by tools/toolchain/build: pins the main packages built here.\n"
            f"package tools\n\nimport (\n{imports}\n)\n"
        )
        started = time.monotonic()
        run([go, "mod", "tidy"], env=env, cwd=src, logf=logf, nice=True, heartbeat=f"{tool.name} go mod tidy")
        log(f"  {tool.name}: wrapper module resolved ({time.monotonic() - started:.0f}s)")
        # 3. Build every main package into bin.new, then swap it in.
        started = time.monotonic()
        staging = directory / "bin.new"
        _remove(staging)
        staging.mkdir()
        ldflags = " ".join(["-s", "-w", *tool.ldflags(fetched.info)])
        for name, package in tool.binaries.items():
            one = time.monotonic()
            run(
                [go, "build", "-ldflags", ldflags, "-o", str(staging / name), package],
                env=env, cwd=src, logf=logf, nice=True, heartbeat=f"{tool.name}: go build {name}",
            )  # fmt: skip
            log(f"  {tool.name}: {name} built ({time.monotonic() - one:.0f}s)")
        _remove(directory / "bin")
        staging.rename(directory / "bin")
        log(f"  {tool.name}: go build done ({time.monotonic() - started:.0f}s)")

    def generated_copy(self, tool: Tool, module_dir: Path, gomod: Any, logf: IO[str]) -> Path:
        """A writable copy of the module with its generated files in it."""
        copy = self.tool_dir(tool) / "module"
        _remove(copy)
        shutil.copytree(module_dir, copy)
        for path in copy.rglob("*"):
            path.chmod(path.stat().st_mode | 0o200)
        # The copy stands alone: its replaces to sibling directories (absent here) point at
        # served modules, as the wrapper's do; -mod=mod records their sums.
        for replace in wrapper_replaces(gomod, tool.local_replace_version, pinned=tool.replace_versions):
            old, new = (side.replace(" ", "@") for side in replace.split(" => "))
            run([self.go, "mod", "edit", f"-replace={old}={new}"], env=self.env, cwd=copy, logf=logf)
        generate_env = {**self.env, **tool.generate_env, "GOFLAGS": self.env["GOFLAGS"] + " -mod=mod"}
        assert tool.generate_in_copy is not None
        run(
            [self.go, "generate", "./" + tool.generate_in_copy],
            env=generate_env, cwd=copy, logf=logf, nice=True, heartbeat=f"{tool.name} go generate",
        )  # fmt: skip
        return copy

    def install_kubernetes_plugin(self) -> None:
        """Register the built provider in PULUMI_HOME under its release version, so the engine
        finds it and never tries a download. Re-registered whenever it was just built."""
        provider, cli = self.bin_dirs.get("pulumi-resource-kubernetes"), self.bin_dirs.get("pulumi")
        if not provider or not cli:
            return
        release = "v" + (self.tools["pulumi-resource-kubernetes"].release or "").lstrip("v")
        marker = self.pulumi_home / "plugins" / f"resource-kubernetes-{release}"
        if marker.exists() and self.results["pulumi-resource-kubernetes"][0] != "built":
            return
        env = {**os.environ, "PULUMI_HOME": str(self.pulumi_home), "PULUMI_SKIP_UPDATE_CHECK": "true"}
        command = [str(cli / "pulumi"), "plugin", "install", "resource", "kubernetes", release]
        command += ["--file", str(provider / "pulumi-resource-kubernetes"), "--reinstall"]
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise SystemExit(f"pulumi plugin install resource kubernetes {release} failed: {out.stderr.strip()[:500]}")
        log(f"registered resource plugin kubernetes {release} in {self.pulumi_home}")

    def write_env(self) -> Path:
        envfile = self.root / "env.sh"
        path = os.pathsep.join(dict.fromkeys(str(self.bin_dirs[t]) for t in self.tools if t in self.bin_dirs))
        body = [
            '# Generated by tools/toolchain/build; source it:  . "$(tools/toolchain/build --env-file)"',
            f"export STATEFULKIT_TOOLCHAIN={shlex.quote(str(self.root))}",
            f"export STATEFULKIT_TOOLCHAIN_PATH={shlex.quote(path)}",
            'case ":$PATH:" in *":$STATEFULKIT_TOOLCHAIN_PATH:"*) ;; '
            '*) export PATH="$STATEFULKIT_TOOLCHAIN_PATH${PATH:+:$PATH}" ;; esac',
            f"export PULUMI_HOME={shlex.quote(str(self.pulumi_home))}",
            "export PULUMI_SKIP_UPDATE_CHECK=true",
            "# never download plugins: everything is built from source by tools/toolchain/build",
            "export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true",
        ]
        body += [
            f"export {variable}={shlex.quote(str(self.bin_dirs[tool]))}"
            for tool, variable in BIN_VARIABLES.items()
            if tool in self.bin_dirs
        ]
        body.append(f"export STATEFULKIT_KUBE_VERSION={self.pins['KUBERNETES_VERSION']}")
        if "kwok" in self.bin_dirs:
            # tools/cluster/up builds its kwok config from the module's own stage files.
            kwok = self.tools["kwok"]
            source = Path(self.env["GOMODCACHE"]) / f"{kwok.module}@{kwok.version}"
            body.append(f"export STATEFULKIT_KWOK_SOURCE={shlex.quote(str(source))}")
        tmp = envfile.with_suffix(".tmp")
        tmp.write_text("\n".join(body) + "\n")
        tmp.rename(envfile)
        return envfile

    def keep_earlier_builds(self) -> None:
        """Bin dirs of tools built by earlier runs (e.g. --only kwok) stay in the env file."""
        for tool in self.tools.values():
            if tool.name in self.bin_dirs:
                continue
            try:
                if json.loads((self.tool_dir(tool) / "stamp.json").read_text()).get("spec") == self.stamp_hash(tool):
                    self.bin_dirs[tool.name] = self.tool_dir(tool) / "bin"
            except (OSError, ValueError):
                pass


def select(
    everything: dict[str, Tool], only: str | None, skip: str | None, parser: argparse.ArgumentParser
) -> list[Tool]:
    """The tools --only and --skip leave, in build order."""

    def names(text: str | None) -> list[str]:
        return [n.strip() for n in (text or "").split(",") if n.strip()]

    for name in names(only) + names(skip):
        if name not in everything:
            parser.error(f"unknown tool {name!r}; one of {', '.join(everything)}")
    return [t for t in everything.values() if t.name in (names(only) or everything) and t.name not in names(skip)]


def main() -> int:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--only", help="comma-separated tools to build/verify (default: all)")
    parser.add_argument("--skip", help="comma-separated tools to leave out")
    parser.add_argument("--print-env", action="store_true", help="print only the env exports on stdout")
    parser.add_argument("--env-file", action="store_true", help="print the env file path and exit")
    parser.add_argument("--list", action="store_true", help="list tools and pinned versions")
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any tool is unavailable")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a pin")
    parser.add_argument(
        "--jobs",
        type=int,
        default=int(os.environ.get("STATEFULKIT_BUILD_JOBS", "2")),
        help="go build -p (default 2, or $STATEFULKIT_BUILD_JOBS)",
    )
    args = parser.parse_args()
    pins = read_versions(args.set)
    if args.env_file:
        print(cache_root() / "toolchain" / "env.sh")
        return 0
    everything = catalog(pins)
    if args.list:
        for tool in everything.values():
            print(f"{tool.name:28} {tool.module}@{tool.version or '(unpinned)'}  -> {', '.join(tool.binaries)}")
        return 0

    chosen = select(everything, args.only, args.skip, parser)

    builder = Builder(args, pins)
    have = tuple(int(x) for x in builder.go_version.removeprefix("go").split(".")[:2])
    if have < MIN_GO:
        raise SystemExit(f"{builder.go_version} is too old: the pinned modules need go >= {'.'.join(map(str, MIN_GO))}")
    started = time.monotonic()
    log(f"cache: {builder.cache}  ({builder.go_version}, go build -p {args.jobs}, nice 10)")
    for tool in chosen:
        builder.ensure(tool)
    builder.keep_earlier_builds()
    provider = builder.results.get("pulumi-resource-kubernetes", ("not chosen",))[0]
    if provider in ("built", "cached"):
        builder.install_kubernetes_plugin()
    envfile = builder.write_env()
    if any(builder.results[t.name][0] != "cached" for t in chosen):  # all verified from the cache: nothing to tell
        log(f"summary ({time.monotonic() - started:.0f}s total):")
        for tool in chosen:
            status, seconds, detail = builder.results[tool.name]
            log(f"  {tool.name:28} {tool.version or '-':14} {status:12} {seconds:7.1f}s  {detail}")
    unavailable = [t for t in chosen if builder.results[t.name][0] == "unavailable"]
    failed = [t for t in chosen if builder.results[t.name][0] == "failed"]
    if args.print_env:
        print(envfile.read_text(), end="")
    else:
        print("bin dirs:")
        for directory in dict.fromkeys(str(p) for p in builder.bin_dirs.values()):
            print(f"  {directory}")
        print(f"env file: {envfile}")
        print(f'  use:   . "{envfile}"   or   eval "$(tools/toolchain/build --print-env)"')
    return 1 if failed or (args.strict and unavailable) else 0


if __name__ == "__main__":
    sys.exit(main())

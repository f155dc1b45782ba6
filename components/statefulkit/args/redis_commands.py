"""Which Redis commands an ensemble may rename or disable (`RedisArgs.renamed_commands`), and the rule."""

from __future__ import annotations

import re

# Sentinel sends these to the Redis servers inside MULTI/EXEC when it promotes or re-points a
# node (SLAVEOF, CONFIG REWRITE, CLIENT KILL): one unknown command aborts the whole transaction,
# so they may be renamed (Sentinel is told the new name) but never disabled.
SENTINEL_COMMANDS = frozenset({"CONFIG", "SLAVEOF", "CLIENT"})
# Used by replication, by Sentinel's monitoring and by the start scripts and probes: untouchable.
PROTECTED_COMMANDS = frozenset(
    {"AUTH", "HELLO", "PING", "INFO", "ROLE", "MULTI", "EXEC", "PUBLISH", "SUBSCRIBE", "PSYNC", "SYNC", "REPLCONF"}
)
# Dangerous commands, disabled ("") or renamed by default. CONFIG is renamed, not disabled,
# because Sentinel needs it; choose your own alias to make it unguessable.
DEFAULT_RENAMED_COMMANDS: dict[str, str] = {
    "FLUSHALL": "",
    "FLUSHDB": "",
    "DEBUG": "",
    "CONFIG": "SK_CONFIG",
}
_COMMAND = re.compile(r"^[A-Za-z][A-Za-z0-9_|-]*$")
_ALIAS = re.compile(r"^[A-Za-z0-9_-]+$")


def check_renamed_commands(renamed: dict[str, str]) -> None:
    """Names that Redis, Sentinel and the scripts can still use: no protected command renamed, none
    of Sentinel's disabled, no alias twice."""
    aliases: dict[str, str] = {}
    for command, alias in renamed.items():
        upper = command.upper()
        if not _COMMAND.match(command):
            raise ValueError(f"renamed_commands: {command!r} is not a Redis command name")
        if alias and not _ALIAS.match(alias):
            raise ValueError(
                f"renamed_commands[{command!r}]={alias!r}: a new name may only hold letters, digits, '_' and '-' "
                "('' disables the command)"
            )
        if upper in PROTECTED_COMMANDS:
            raise ValueError(
                f"renamed_commands[{command!r}]={alias!r}: {upper} is used by replication, Sentinel or the "
                "probes and cannot be renamed or disabled"
            )
        if upper in SENTINEL_COMMANDS and alias == "":
            raise ValueError(
                f"renamed_commands[{command!r}]='': Sentinel sends {upper} during a failover, so disabling it "
                f"would break failover; rename it instead (e.g. {upper!r}: 'MY_{upper}')"
            )
        if alias:
            if alias.upper() in aliases:
                raise ValueError(
                    f"renamed_commands: {aliases[alias.upper()]!r} and {command!r} are both renamed to {alias!r}"
                )
            aliases[alias.upper()] = command
    uppers = [c.upper() for c in renamed]
    dups = sorted({c for c in uppers if uppers.count(c) > 1})
    if dups:
        raise ValueError(f"renamed_commands: {dups} listed more than once (names are case-insensitive)")

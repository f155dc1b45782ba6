"""The Redis ensemble's shell scripts, run by sh: valid POSIX sh, and the password quoting helper
round-trips any password."""

from __future__ import annotations

import re
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from statefulkit.args.redis import (
    RedisArgs,
)
from statefulkit.render.redis import render_config_files
from tests.support.redis_mocks import args


def test_scripts_are_valid_posix_sh() -> None:
    spec = RedisArgs(**args())
    for name, text in render_config_files("cache", spec).items():
        if name.endswith(".sh"):
            result = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True, check=False)
            assert result.returncode == 0, f"{name}: {result.stderr}"


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40))
def test_conf_quote_round_trips_any_password(password: str) -> None:
    """The start scripts write the password as "\\xHH..." in redis.conf: it must decode to the same bytes."""
    common = render_config_files("cache", RedisArgs(**args()))["common.sh"]
    helper = common[common.index("conf_quote() {") :]
    helper = helper[: helper.index("\n}\n") + 3]
    result = subprocess.run(
        ["sh", "-c", helper + 'conf_quote "$PW"'],
        env={"PW": password, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
    )
    quoted = result.stdout.decode()
    assert re.fullmatch(r'"(\\x[0-9a-f]{2})*"', quoted), quoted
    decoded = bytes(int(h, 16) for h in re.findall(r"\\x([0-9a-f]{2})", quoted))
    assert decoded == password.encode()

"""Unit-test a Pulumi program that uses statefulkit (or any Kubernetes program) under mocks.

    from statefulkit.testing import Match, run

    def test_replicas() -> None:
        d = run(lambda: ZooKeeperEnsemble("zk", {"replicas": 3}) and None, preview=False)
        d.has_resource(kind="StatefulSet", k8s_name="zk", inputs={"spec": {"replicas": 3}})

With pytest, the `pulumi_mocks` fixture (this package's plugin) runs each test in preview and
in update mode: `pulumi_mocks.run(program)`.
"""

from statefulkit.testing.match import Capture, Match, Matcher, MatchError, Mismatch, assert_match, mismatches
from statefulkit.testing.provider import CLUSTER_SCOPED_KINDS, KubernetesMocks
from statefulkit.testing.recording import Deployment, Resource
from statefulkit.testing.runner import (
    MODES,
    ExpectedFailureError,
    Mode,
    Program,
    ProgramLoggedError,
    UnresolvedOutputError,
    config_value,
    program_at,
    run,
    run_failing,
)
from statefulkit.testing.session import MockRunner
from statefulkit.testing.values import SECRET_SIG, SIG_KEY, UNKNOWN, Secret, unmarked

__all__ = [
    "CLUSTER_SCOPED_KINDS",
    "MODES",
    "SECRET_SIG",
    "SIG_KEY",
    "UNKNOWN",
    "Capture",
    "Deployment",
    "ExpectedFailureError",
    "KubernetesMocks",
    "Match",
    "MatchError",
    "Matcher",
    "Mismatch",
    "MockRunner",
    "Mode",
    "Program",
    "ProgramLoggedError",
    "Resource",
    "Secret",
    "UnresolvedOutputError",
    "assert_match",
    "config_value",
    "mismatches",
    "program_at",
    "run",
    "run_failing",
    "unmarked",
]

"""Unit-test a Pulumi program that uses statefulkit (or any Kubernetes program) under mocks.

    from components.testing import Match, run

    def test_replicas() -> None:
        d = run(lambda: ZooKeeperEnsemble("zk", {"replicas": 3}) and None, preview=False)
        d.has_resource(kind="StatefulSet", k8s_name="zk", inputs={"spec": {"replicas": 3}})

With pytest, the `pulumi_mocks` fixture (this package's plugin) runs each test in preview and
in update mode: `pulumi_mocks.run(program)`.
"""

from components.testing.match import Capture, Match, Matcher, MatchError, Mismatch, assert_match, mismatches
from components.testing.provider import CLUSTER_SCOPED_KINDS, KubernetesMocks
from components.testing.recording import Deployment, Resource
from components.testing.runner import (
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
from components.testing.session import MockRunner
from components.testing.values import SECRET_SIG, SIG_KEY, UNKNOWN, Secret, unmarked

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

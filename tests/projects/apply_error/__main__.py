"""A user's program with a bug: an apply on an ensemble's Output raises, and nothing awaits it.

Under statefulkit.testing this once killed the interpreter (the StatefulSet's hook registration
was still starting its callback server when the SDK stopped it); through the engine the run must
fail with this ValueError and its traceback.
"""

import pulumi

from statefulkit import ZooKeeperEnsemble

# delete_hook=False: the test removes the stack with a plain destroy, since this program cannot run.
settings = {"namespace": pulumi.Config().require("namespace"), "replicas": 1, "delete_hook": False}
zookeeper = ZooKeeperEnsemble("zk", settings)


def as_number(hosts: str) -> int:
    return int(hosts)  # the bug: a connect string is not a number


zookeeper.connect_string.apply(as_number)

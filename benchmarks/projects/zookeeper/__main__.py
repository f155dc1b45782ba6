"""One 3-member ZooKeeperEnsemble in an existing namespace, the same args the kubectl side renders."""

import pulumi

from benchmarks.engine_deploy import zookeeper_args
from statefulkit import ZooKeeperEnsemble

ZooKeeperEnsemble("zk", zookeeper_args(pulumi.Config().require("namespace")))

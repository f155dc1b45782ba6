"""A user's program that reaches its clusters only through explicit providers, whose kubeconfigs are
Outputs of another resource (a StackReference to the stack that made the clusters). Each region is
a component that hands its provider to its children (`providers=`), and each holds the same
ZooKeeper ensemble: the same namespace and name in every cluster.

Config: clusters_stack (the StackReference's name), clusters (list of cluster names), namespace,
and optionally storage_size and delete_hook.
"""

import pulumi
import pulumi_kubernetes as k8s

from statefulkit import ZooKeeperEnsemble

config = pulumi.Config()
made = pulumi.StackReference(config.require("clusters_stack"))


class Region(pulumi.ComponentResource):
    def __init__(self, cluster: str, provider: k8s.Provider) -> None:
        # A type per region: a child's URN is its type chain and name, so each region can hold "zk".
        super().__init__(
            f"regions:index:{cluster.capitalize()}", cluster, None, pulumi.ResourceOptions(providers=[provider])
        )
        child = pulumi.ResourceOptions(parent=self)
        namespace = k8s.core.v1.Namespace(
            f"{cluster}-apps",
            metadata={"name": config.require("namespace")},
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        self.zookeeper = ZooKeeperEnsemble(
            "zk",
            {
                "namespace": namespace.metadata.apply(lambda meta: str(meta.name)),
                "replicas": 3,
                "storage_size": config.get("storage_size") or "1Gi",
                "heap": "128Mi",
                "resources": {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}},
                "delete_hook": config.get_bool("delete_hook", True),
            },
            opts=child,
        )
        self.register_outputs({})


for name in config.require_object("clusters"):
    region = Region(name, k8s.Provider(name, kubeconfig=made.require_output(f"{name}_kubeconfig")))
    pulumi.export(f"{name}_connect_string", region.zookeeper.connect_string)

"""The Pulumi type tokens the tests look registered resources up by, written once."""

STS = "kubernetes:apps/v1:StatefulSet"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SVC = "kubernetes:core/v1:Service"
CM = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"  # noqa: S105 - a type token
NS = "kubernetes:core/v1:Namespace"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
SC = "kubernetes:storage.k8s.io/v1:StorageClass"
WORKLOAD = "statefulkit:index:StatefulWorkload"
ZOOKEEPER = "statefulkit:index:ZooKeeperEnsemble"
REDIS = "statefulkit:index:RedisEnsemble"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

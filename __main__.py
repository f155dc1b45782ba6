"""The statefulkit Pulumi program: stack config in, StatefulWorkloads out.

Config (stacks/Pulumi.<env>.yaml): `statefulkit:namespace` and `statefulkit:workloads`, a map
from workload name to StatefulWorkloadArgs keys (snake_case, exactly as in the models).
"""

import pulumi

from components import StatefulWorkload

config = pulumi.Config()
namespace = config.get("namespace") or "default"
for name, args in (config.get_object("workloads") or {}).items():
    workload = StatefulWorkload(name, {"namespace": namespace, **args})
    pulumi.export(f"{name}_pod_dns_names", workload.pod_dns_names)
    pulumi.export(f"{name}_headless_service", workload.headless_service.metadata.name)

"""Backups and restores under Pulumi mocks: the CronJob, the repository Secrets, the job's
NetworkPolicies and the restore's init container as registered, and the keys still secret."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

from statefulkit.redis import RedisEnsemble
from statefulkit.testing import SECRET_SIG, run
from tests.support.mocks import env_of, sts_spec
from tests.support.redis_mocks import PASSWORD, deploy, files
from tests.support.tokens import CM, NETPOL, SECRET

CRON_JOB = "kubernetes:batch/v1:CronJob"
REPOSITORY_PASSWORD = "r3p0-Pl41n-N3v3r"  # noqa: S105 - test-only
ACCESS_KEY = "AKIA-TEST-ACCESS"
SECRET_KEY = "s3cr3t-T3st-K3y"  # noqa: S105 - test-only
PLAIN = (PASSWORD, REPOSITORY_PASSWORD, ACCESS_KEY, SECRET_KEY)


def repository(**overrides: Any) -> dict[str, Any]:
    return {
        "endpoint": "http://10.1.0.1:7070",
        "bucket": "backups",
        "path": "prod/cache",
        "password": pulumi.Output.secret(REPOSITORY_PASSWORD),
        "access_key_id": pulumi.Output.secret(ACCESS_KEY),
        "secret_access_key": pulumi.Output.secret(SECRET_KEY),
        **overrides,
    }


def test_backup_registers_a_cron_job_that_copies_from_a_replica(preview: bool) -> None:
    d = deploy(preview, backup={"repository": repository(), "schedule": "*/30 * * * *", "retries": 4})
    job = d.one(CRON_JOB).inputs
    spec = job["spec"]
    assert job["metadata"]["name"] == "cache-backup"
    assert spec["schedule"] == "*/30 * * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    template = spec["jobTemplate"]["spec"]
    assert template["backoffLimit"] == 4
    assert template["activeDeadlineSeconds"] == 3600
    pod = template["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    (fetch,) = pod["initContainers"]
    (store,) = pod["containers"]
    assert fetch["image"] == sts_spec(d)["template"]["spec"]["containers"][0]["image"]
    assert fetch["command"] == ["sh", "/backup-scripts/redis-backup-fetch.sh"]
    assert store["image"] == "restic/restic:0.18.0"
    for container in (fetch, store):
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["limits"] == {"memory": "1Gi"}
    env = env_of(store)
    assert env["RESTIC_REPOSITORY"] == "s3:http://10.1.0.1:7070/backups/prod/cache"
    for key in ("RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[key] == {"secretKeyRef": {"name": "cache-backup-repository", "key": key}}
    assert env_of(fetch)["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "cache-auth", "key": "password"}}
    # The job's pods are not the ensemble's: no Service or budget selects them.
    labels = template["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "backup"
    scripts = {c.name: c.inputs["data"] for c in d.of_type(CM)}["cache-backup"]
    assert set(scripts) == {"redis-backup-fetch.sh", "backup-store.sh"}
    assert "--keep-last=3 --keep-daily=7 --keep-weekly=4 --keep-monthly=6" in scripts["backup-store.sh"]
    assert d.outputs is not None


def test_the_job_reaches_only_the_redis_port_dns_and_the_store(preview: bool) -> None:
    d = deploy(preview, backup={"repository": repository(endpoint="https://s3.example.net")})
    policies = {p.name: p.inputs["spec"] for p in d.of_type(NETPOL)}
    reads, job = policies["cache-backup-reads"], policies["cache-backup-job"]
    assert reads["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "server"
    assert reads["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": job["podSelector"]["matchLabels"]}}],
            "ports": [{"port": 6379, "protocol": "TCP"}],
        }
    ]
    assert job["policyTypes"] == ["Ingress", "Egress"]
    assert job["ingress"] == []
    ports = [rule["ports"] for rule in job["egress"]]
    assert ports == [
        [{"port": 6379, "protocol": "TCP"}],
        [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        [{"port": 443, "protocol": "TCP"}],
    ]


def test_no_network_policy_means_no_backup_policies(preview: bool) -> None:
    d = deploy(preview, network_policy=None, backup={"repository": repository()})
    assert d.of_type(NETPOL) == []
    assert d.one(CRON_JOB)


def test_outputs_name_the_cron_job_and_the_repository(preview: bool) -> None:
    def program() -> dict[str, Any]:
        redis = RedisEnsemble(
            "cache", {"password": pulumi.Output.secret(PASSWORD), "backup": {"repository": repository()}}
        )
        assert redis.backup_cron_job_name is not None
        return {"job": redis.backup_cron_job_name, "repository": redis.backup_repository}

    d = run(program, preview=preview)
    assert d.outputs == {"job": "cache-backup", "repository": "s3:http://10.1.0.1:7070/backups/prod/cache"}


def _plain_paths(value: Any, path: str = "") -> list[str]:
    """Where a test secret appears outside a secret-wrapped value."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == SECRET_SIG:
            return []
        return [p for key, item in value.items() for p in _plain_paths(item, f"{path}.{key}")]
    if isinstance(value, list | tuple):
        return [p for i, item in enumerate(value) for p in _plain_paths(item, f"{path}[{i}]")]
    return [path] if any(secret in str(value) for secret in PLAIN) else []


def test_repository_keys_are_never_plain(preview: bool) -> None:
    d = deploy(preview, backup={"repository": repository()}, restore={"repository": repository(path="prod/other")})
    for r in d.resources:
        assert _plain_paths(r.wire) == [], f"{r.type} {r.name}"
    secrets = {s.name: s for s in d.of_type(SECRET)}
    assert set(secrets) == {"cache-auth", "cache-backup-repository", "cache-restore-repository"}
    for name in ("cache-backup-repository", "cache-restore-repository"):
        wrapped = secrets[name].wire["stringData"]
        assert wrapped[rpc._special_sig_key] == SECRET_SIG
        assert set(wrapped["value"]) == {"RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        assert {"data", "stringData"} <= set(secrets[name].additional_secret_outputs)


def test_an_existing_secret_creates_none(preview: bool) -> None:
    d = deploy(
        preview,
        backup={
            "repository": {
                **repository(password=None, access_key_id=None, secret_access_key=None),
                "existing_secret": "s3-keys",
            }
        },
    )
    assert {s.name for s in d.of_type(SECRET)} == {"cache-auth"}
    store = d.one(CRON_JOB).inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert env_of(store)["RESTIC_PASSWORD"] == {"secretKeyRef": {"name": "s3-keys", "key": "RESTIC_PASSWORD"}}


@pytest.mark.parametrize("appendonly", [True, False])
def test_restore_puts_its_init_container_first(preview: bool, appendonly: bool) -> None:
    d = deploy(
        preview,
        appendonly=appendonly,
        restore={"repository": repository(), "snapshot": "0a1b2c3d"},
        init_containers=[{"name": "mine", "command": ["true"]}],
    )
    inits = sts_spec(d)["template"]["spec"]["initContainers"]
    assert [c["name"] for c in inits] == ["restore", "mine"]
    restore = inits[0]
    assert restore["image"] == "restic/restic:0.18.0"
    assert restore["command"] == ["sh", "/config/restore-seed.sh"]
    env = env_of(restore)
    assert env["SNAPSHOT"] == "0a1b2c3d"
    assert env["OVERWRITE"] == "0"
    assert env["LAYOUT"] == "redis-rdb"
    assert env["APPENDONLY"] == ("yes" if appendonly else "no")
    assert env["CLAIM_PREFIX"] == "data-cache"
    assert env["RESTIC_PASSWORD"] == {"secretKeyRef": {"name": "cache-restore-repository", "key": "RESTIC_PASSWORD"}}
    assert {"name": "data", "mountPath": "/data"} in restore["volumeMounts"]
    assert "restore-seed.sh" in files(d)


def test_a_user_init_container_may_not_take_the_restores_name() -> None:
    with pytest.raises(Exception, match="restore"):
        RedisEnsemble.args_type.model_validate(
            {
                "password": pulumi.Output.secret(PASSWORD),
                "restore": {"repository": repository()},
                "init_containers": [{"name": "restore", "command": ["true"]}],
            }
        )


JOB = "kubernetes:batch/v1:Job"
STS_TYPE = "kubernetes:apps/v1:StatefulSet"


def test_a_restore_reads_the_snapshot_in_a_job_before_the_stateful_set_exists(preview: bool) -> None:
    d = deploy(preview, restore={"repository": repository(), "snapshot": "0a1b2c3d", "check_deadline_seconds": 45})
    job = d.one(JOB)
    spec = job.inputs["spec"]
    assert job.name == "cache-restore-check" and job.delete_before_replace
    assert spec["backoffLimit"] == 0 and spec["activeDeadlineSeconds"] == 45
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["restartPolicy"] == "Never"
    (check,) = pod["containers"]
    assert check["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert env_of(check)["SNAPSHOT"] == "0a1b2c3d"
    assert env_of(check)["RESTIC_PASSWORD"] == {
        "secretKeyRef": {"name": "cache-restore-repository", "key": "RESTIC_PASSWORD"}
    }
    assert 'restic --no-cache cat snapshot "$SNAPSHOT"' in check["command"][2]
    # The StatefulSet waits for the check (it is created only once the check succeeded).
    statefulset = d.one(STS_TYPE)
    workload = next(r for r in d.resources if r.urn == statefulset.parent)
    assert job.urn in workload.dependencies or job.urn in statefulset.dependencies


def test_no_restore_no_check_job(preview: bool) -> None:
    assert deploy(preview).of_type(JOB) == []


def test_the_jobs_run_where_the_ensembles_pods_may(preview: bool) -> None:
    placement: dict[str, Any] = {
        "node_selector": {"pool": "data"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "data", "effect": "NoSchedule"}],
        "image_pull_secrets": ["registry"],
    }
    d = deploy(preview, backup={"repository": repository()}, restore={"repository": repository()}, **placement)
    backup_pod = d.one(CRON_JOB).inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    check_pod = d.one(JOB).inputs["spec"]["template"]["spec"]
    server_pod = sts_spec(d)["template"]["spec"]
    for pod in (backup_pod, check_pod):
        for key in ("nodeSelector", "tolerations", "imagePullSecrets"):
            assert pod[key] == server_pod[key], key


RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def test_with_a_pod_monitor_the_backups_are_watched(preview: bool) -> None:
    monitored: dict[str, Any] = {
        "exporter": {},
        "pod_monitor": {},
        "network_policy": {"metrics": [{"pod_labels": {"app": "prometheus"}}]},
    }
    d = deploy(preview, backup={"repository": repository(), "stale_after_hours": 8}, **monitored)
    rule = d.one(RULE)
    assert rule.name == "cache-backup-alerts"
    alerts = {r["alert"]: r for r in rule.inputs["spec"]["groups"][0]["rules"]}
    stale = alerts["StatefulkitBackupStale"]["expr"]
    assert 'kube_cronjob_status_last_successful_time{namespace="default", cronjob="cache-backup"}' in stale
    assert "> 28800" in stale and "absent(" in stale
    assert alerts["StatefulkitBackupFailed"]["expr"] == (
        'kube_job_status_failed{namespace="default", job_name=~"cache-backup-.*"} > 0'
    )
    assert deploy(preview, **monitored).of_type(RULE) == []
    assert deploy(preview, backup={"repository": repository()}).of_type(RULE) == []

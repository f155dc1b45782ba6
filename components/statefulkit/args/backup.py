"""Typed inputs of backups and restores: the S3 repository, the schedule, retention, the restore.

Backups are restic snapshots in a repository on any S3-compatible store. The store's keys and the
repository's password reach the pods from a Secret: one the user names (`existing_secret`), or one
the component creates from Pulumi secrets. A plain str for any of them is refused, redacted.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import pulumi
from pydantic import Field, field_validator, model_validator

from statefulkit.args.common import StrictModel, at_least, secret_check
from statefulkit.args.container import Resources
from statefulkit.args.schedule import check_schedule

# The official image, pinned; the tests run Debian's restic (tools/images: restic-debian).
RESTIC_IMAGE = "restic/restic:0.18.0"
# The keys of the repository Secret, named as restic and the AWS SDK read them from the environment.
PASSWORD_KEY = "RESTIC_PASSWORD"  # noqa: S105 - a key name
ACCESS_KEY_ID_KEY = "AWS_ACCESS_KEY_ID"
SECRET_ACCESS_KEY_KEY = "AWS_SECRET_ACCESS_KEY"  # noqa: S105 - a key name
REPOSITORY_KEYS = (PASSWORD_KEY, ACCESS_KEY_ID_KEY, SECRET_ACCESS_KEY_KEY)
# The user and group the backup job and the restore check run as (restricted Pod Security: not root).
BACKUP_UID = 65532
# The restore's init container in the ensemble's pods (a user's init containers may not take it).
RESTORE_CONTAINER = "restore"

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PATH = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
_ENDPOINT = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
_SNAPSHOT_ID = re.compile(r"^[0-9a-f]{8,64}$")


def _secret(field: str, what: str) -> object:
    return secret_check(
        field,
        what,
        f'pulumi.Config().require_secret("{field}") (set it with `pulumi config set --secret {field} ...`)',
        f"name a Kubernetes Secret holding {', '.join(REPOSITORY_KEYS)} with existing_secret",
    )


class BackupRepository(StrictModel):
    """A restic repository on an S3-compatible store: `s3:<endpoint>/<bucket>/<path>`."""

    endpoint: str = Field(
        description="The store's S3 endpoint, http(s)://host[:port] (AWS: https://s3.<region>.amazonaws.com). Required."
    )
    bucket: str = Field(description="The bucket (it must exist). Required.")
    path: str = Field(description="The repository's folder in the bucket, e.g. prod/zookeeper. Required.")
    region: str = Field("us-east-1", min_length=1, description="The store's region. Default us-east-1.")
    existing_secret: str | None = Field(
        None,
        description=f"A Secret in the ensemble's namespace holding {', '.join(REPOSITORY_KEYS)}. Default None: "
        "the component creates one from password, access_key_id and secret_access_key.",
    )
    password: Annotated[pulumi.Output[str] | None, _secret("password", "a backup repository's password")] = Field(
        None, description="The repository's password, a Pulumi secret (restic encrypts with it)."
    )
    access_key_id: Annotated[pulumi.Output[str] | None, _secret("access_key_id", "an S3 access key id")] = Field(
        None, description="The store's access key id, a Pulumi secret."
    )
    secret_access_key: Annotated[pulumi.Output[str] | None, _secret("secret_access_key", "an S3 secret access key")] = (
        Field(None, description="The store's secret access key, a Pulumi secret.")
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not _ENDPOINT.match(value):
            raise ValueError(
                f"endpoint={value!r} must be http(s)://host[:port], with no path (the bucket is its own field)"
            )
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not _BUCKET.match(value) or ".." in value:
            raise ValueError(f"bucket={value!r} must be an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-'")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not _PATH.match(value):
            raise ValueError(
                f"path={value!r} must be folder names of letters, digits, '.', '_' and '-' joined by '/', "
                "with no leading or trailing '/'"
            )
        return value

    @model_validator(mode="after")
    def _one_source_of_keys(self) -> BackupRepository:
        given = [f for f in ("password", "access_key_id", "secret_access_key") if getattr(self, f) is not None]
        if self.existing_secret is not None and given:
            raise ValueError(
                f"existing_secret={self.existing_secret!r} with {', '.join(given)}: the repository's keys come from "
                "one place; drop one or the other"
            )
        if self.existing_secret is None and len(given) != 3:
            missing = [f for f in ("password", "access_key_id", "secret_access_key") if f not in given]
            raise ValueError(
                f"{', '.join(missing)} not set: without existing_secret, the repository needs password, access_key_id "
                "and secret_access_key (Pulumi secrets)"
            )
        return self

    def url(self) -> str:
        """The repository as restic names it."""
        return f"s3:{self.endpoint}/{self.bucket}/{self.path}"

    def port(self) -> int:
        """The store's TCP port, for the backup job's egress rule."""
        host_port = self.endpoint.split("://", 1)[1]
        if ":" in host_port:
            return int(host_port.rsplit(":", 1)[1])
        return 443 if self.endpoint.startswith("https") else 80


class Retention(StrictModel):
    """Which snapshots `restic forget --prune` keeps after each backup; the newest is always kept."""

    keep_last: Annotated[int, at_least("retention.keep_last", 1)] = Field(3, description="Default 3.")
    keep_daily: Annotated[int, at_least("retention.keep_daily", 0)] = Field(7, description="Default 7.")
    keep_weekly: Annotated[int, at_least("retention.keep_weekly", 0)] = Field(4, description="Default 4.")
    keep_monthly: Annotated[int, at_least("retention.keep_monthly", 0)] = Field(6, description="Default 6.")

    def flags(self) -> list[str]:
        return [
            f"--keep-{kind}={count}"
            for kind, count in (
                ("last", self.keep_last),
                ("daily", self.keep_daily),
                ("weekly", self.keep_weekly),
                ("monthly", self.keep_monthly),
            )
            if count
        ]


def _default_resources() -> Resources:
    return Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"memory": "1Gi"})


class ResticJob(StrictModel):
    """What a backup and a restore share: the repository, and the image restic runs from."""

    repository: BackupRepository = Field(description="The restic repository. Required.")
    image: str = Field(RESTIC_IMAGE, min_length=1, description=f"The restic image. Default {RESTIC_IMAGE}.")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        "IfNotPresent", description="Of the restic image. Default IfNotPresent."
    )


class BackupArgs(ResticJob):
    """Backups of an ensemble on a schedule: a CronJob copies the data from a member that is not
    the primary (a Redis replica, a ZooKeeper follower) and stores it as a restic snapshot."""

    schedule: str = Field("17 3 * * *", description="A CronJob schedule. Default '17 3 * * *' (daily, 03:17).")
    time_zone: str | None = Field(None, description="The schedule's time zone (IANA name). Default: the cluster's.")
    retention: Retention = Field(default_factory=Retention, description="Snapshots kept. Default Retention().")
    resources: Resources = Field(default_factory=_default_resources, description="Of each of the job's containers.")
    deadline_seconds: Annotated[int, at_least("backup.deadline_seconds", 60)] = Field(
        3600, description="A backup job running longer is stopped and counts as failed. Default 3600."
    )
    retries: Annotated[int, at_least("backup.retries", 0)] = Field(
        2, description="A failed backup is run again this many times (the job's backoffLimit). Default 2."
    )
    stale_after_hours: Annotated[int, at_least("backup.stale_after_hours", 1)] = Field(
        26,
        description="With pod_monitor, an alert fires when the last successful backup is older (kube-state-metrics' "
        "CronJob series). Default 26 (a daily schedule and two hours).",
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        return check_schedule(value)

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$", value):
            raise ValueError(f"time_zone={value!r} must be an IANA time zone name such as 'Europe/Berlin' or 'UTC'")
        return value


class RestoreArgs(ResticJob):
    """A new ensemble seeded from a snapshot: before the first start, an init container fills each
    empty data volume from it. A volume that holds data is never overwritten unless
    `overwrite_existing_data` says so."""

    snapshot: str = Field("latest", description="'latest' (of this repository) or a snapshot id. Default latest.")
    overwrite_existing_data: bool = Field(
        False, description="Replace the data on a volume that already holds some. Default False: refuse."
    )
    check_deadline_seconds: Annotated[int, at_least("restore.check_deadline_seconds", 10)] = Field(
        120,
        description="How long `up` waits for the store to confirm the snapshot before it fails with the "
        "store's message. Default 120.",
    )

    @field_validator("snapshot")
    @classmethod
    def _snapshot(cls, value: str) -> str:
        if value != "latest" and not _SNAPSHOT_ID.match(value):
            raise ValueError(f"snapshot={value!r} must be 'latest' or a restic snapshot id (8 to 64 hex digits)")
        return value

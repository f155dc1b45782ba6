"""One protocol for every ensemble's rendering: its names, its workload's args, and its own objects.

An ensemble is a StatefulWorkload plus a few objects beside it: the Secret with its password
(unless the user names one), ConfigMaps the pod template must not hash, and with TLS from
cert-manager a Certificate. `EnsembleRender` holds one ensemble's name and validated args and
renders all of it; an ensemble subclasses it with its workload args and whatever it adds. Pure:
no Pulumi import; a namespace or a Secret's name that is an Output is passed through untouched.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar

from statefulkit.args.container import KeyRef
from statefulkit.args.ensemble import EnsembleOptions
from statefulkit.args.tls import certificate_secret
from statefulkit.args.workload import StatefulWorkloadArgs
from statefulkit.render import backup as backups
from statefulkit.render.pod import Manifest, render_placement
from statefulkit.render.tls import render_certificate, with_tls
from statefulkit.render.workload import (
    WorkloadManifests,
    WorkloadNames,
    ensemble_metadata,
    pod_dns_names,
    render_workload,
    selector_labels,
)
from statefulkit.version import __version__

Args = TypeVar("Args", bound=EnsembleOptions)

# The key of the password in the Secret the component creates.
PASSWORD_KEY = "password"  # noqa: S105 - the Secret key name


class EnsembleRender(ABC, Generic[Args]):
    """The ensemble `name` with validated `args`, rendered. Names are methods, each defined once."""

    app_name: ClassVar[str]  # app.kubernetes.io/name of every object
    secret_suffix: ClassVar[str]  # the created password Secret is `<name>-<secret_suffix>`

    def __init__(self, name: str, args: Args) -> None:
        self.name = name
        self.args = args
        self.workload_names = WorkloadNames.of(name)

    # --- names

    def secret_name(self) -> str:
        """The password Secret the component creates (when `creates_secret`)."""
        return f"{self.name}-{self.secret_suffix}"

    def certificate_name(self) -> str:
        """The cert-manager Certificate, and the Secret cert-manager writes for it."""
        return certificate_secret(self.name)

    @abstractmethod
    def certified_services(self) -> list[str]:
        """The Services the Certificate names: the headless one first (its wildcard covers every member)."""

    # --- the password

    def needs_password(self) -> bool:
        return True

    def creates_secret(self) -> bool:
        return self.needs_password() and self.args.existing_secret is None

    def password_ref(self, secret_name: Any = None) -> KeyRef | None:
        """Where the pods read the password: the user's Secret, or the one the component creates
        (`secret_name` may be its Output name, so that the StatefulSet depends on it)."""
        if not self.needs_password():
            return None
        if self.args.existing_secret is not None:
            return self.args.existing_secret
        return KeyRef(name=secret_name if secret_name is not None else self.secret_name(), key=PASSWORD_KEY)

    # --- the ensemble's own objects

    def metadata(self, object_name: str) -> Manifest:
        return ensemble_metadata(self.app_name, self.name, object_name, self.args)

    def secret(self, password: Any) -> Manifest:
        """The password Secret; `password` is passed through (the component hands a secret Output)."""
        return {"metadata": self.metadata(self.secret_name()), "type": "Opaque", "stringData": {PASSWORD_KEY: password}}

    def config_maps(self) -> list[Manifest]:
        """ConfigMaps beside the workload's own (which the pod template hashes); none by default."""
        return []

    def issues_certificate(self) -> bool:
        """Whether TLS comes from a cert-manager issuer, through a Certificate the component creates."""
        return self.args.tls is not None and self.args.tls.issuer_ref is not None

    def certificate_spec(self, namespace: str) -> Manifest:
        """The Certificate's spec (only when `issues_certificate`)."""
        assert self.args.tls is not None
        return render_certificate(
            self.name, self.args.tls, namespace, self.certified_services(), self.args.cluster_domain
        )

    # --- the workload

    def workload_options(self) -> dict[str, Any]:
        """The shared options as StatefulWorkloadArgs keywords, with the TLS Secret (and the key
        store, for an ensemble that assembles one) mounted in the main container, and with a
        restore its init container in front of the user's."""
        args = self.args
        options = with_tls(args.workload_options(), self.name, args.tls, keystore=args.tls_keystore)
        if args.restore is not None:
            options["init_containers"] = [self.restore_init_container(), *options["init_containers"]]
        return options

    def config_files(self, files: dict[str, str]) -> dict[str, str]:
        """The ensemble's config files, and with a restore the script of its init container."""
        return files if self.args.restore is None else {**files, backups.RESTORE_SH: backups.restore_script()}

    # --- backups and restores

    def data_claim(self) -> tuple[str, str]:
        """The data claim a backup is taken of and a restore seeds: (volume claim name, mount path)."""
        raise NotImplementedError(f"{type(self).__name__} must name its data claim to back up (data_claim)")

    def backup_fetch(self) -> backups.BackupFetch:
        """The ensemble's part of its backup job (only when `backup` is set)."""
        raise NotImplementedError(f"{type(self).__name__} cannot back up")

    def restore_layout(self) -> dict[str, str]:
        """restore-seed.sh's settings: LAYOUT, and what the layout needs."""
        assert self.args.backup_layout is not None
        return {"LAYOUT": self.args.backup_layout}

    def repository_secret_name(self, purpose: str) -> str:
        """The Secret of the backup's (`backup`) or the restore's (`restore`) repository."""
        settings = self.args.backup if purpose == "backup" else self.args.restore
        assert settings is not None
        return backups.repository_secret_ref(self.name, purpose, settings.repository)

    def repository_secrets(self) -> list[Manifest]:
        """The repository Secrets the component creates (none for an `existing_secret`)."""
        made = []
        for purpose, settings in (("backup", self.args.backup), ("restore", self.args.restore)):
            if settings is not None and settings.repository.existing_secret is None:
                metadata = self.metadata(backups.repository_secret_name(self.name, purpose))
                made.append(backups.repository_secret(metadata, settings.repository))
        return made

    def restore_init_container(self) -> Any:
        assert self.args.restore is not None
        claim, data_dir = self.data_claim()
        return backups.restore_container(
            self.workload_names.stateful_set,
            self.args.restore,
            self.repository_secret_name("restore"),
            claim=claim,
            data_dir=data_dir,
            config_dir=self.config_dir(),
            layout=self.restore_layout(),
        )

    def config_dir(self) -> str:
        """Where the pods mount the config files and scripts."""
        raise NotImplementedError(f"{type(self).__name__} must say where its scripts are to back up (config_dir)")

    def restore_check(self) -> Manifest:
        """The Job that reads the snapshot before any pod starts (only with `restore`)."""
        assert self.args.restore is not None
        labels = {**self.backup_job_labels(), "app.kubernetes.io/component": "restore-check"}
        return backups.render_restore_check(
            self.metadata(f"{self.name}-restore-check"),
            labels,
            self.args.restore,
            self.repository_secret_name("restore"),
            render_placement(self.args),
        )

    def backup_job_labels(self) -> dict[str, str]:
        return backups.backup_labels(self.app_name, self.name)

    def backup_config_map(self) -> Manifest:
        backup = self.args.backup
        assert backup is not None
        fetch = self.backup_fetch()
        return {
            "metadata": self.metadata(f"{self.name}-backup"),
            "data": backups.backup_config_files(fetch, self.name, __version__, backup.retention.flags()),
        }

    def backup_cron_job(self) -> Manifest:
        backup = self.args.backup
        assert backup is not None
        return backups.render_cron_job(
            name=self.name,
            metadata=self.metadata(f"{self.name}-backup"),
            labels=self.backup_job_labels(),
            backup=backup,
            fetch=self.backup_fetch(),
            image=self.workload_args().image,  # the fetch runs in the server's image
            image_pull_policy=self.args.image_pull_policy,
            config_map=self.workload_names.config_map,
            config_dir=self.config_dir(),
            secret_name=self.repository_secret_name("backup"),
            placement=render_placement(self.args),
        )

    def backup_policies(self) -> list[Manifest]:
        """The backup job's NetworkPolicies (none when the ensemble has none)."""
        backup = self.args.backup
        if backup is None or self.args.network_policy is None:
            return []
        members = selector_labels(self.name, self.workload_args())
        return backups.render_backup_policies(
            self.metadata(f"{self.name}-backup"),
            self.backup_job_labels(),
            members,
            self.backup_fetch(),
            backup.repository.port(),
        )

    @abstractmethod
    def workload_args(self, secret_name: Any = None) -> StatefulWorkloadArgs:
        """The StatefulWorkloadArgs of the ensemble's workload. `secret_name` overrides the name of the
        created password Secret (the component passes its Output, so the StatefulSet waits for it)."""

    def manifests(self) -> WorkloadManifests:
        """Every manifest the ensemble's StatefulWorkload registers."""
        return render_workload(self.name, self.workload_args())

    def pod_dns_names(self, namespace: str) -> list[str]:
        return pod_dns_names(self.workload_names, self.args.replicas, namespace, self.args.cluster_domain)

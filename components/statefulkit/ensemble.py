"""The component every ensemble is: validate, render, then register its objects and its workload.

An ensemble's class names its Args, its renderer (statefulkit.render.ensemble) and its type token,
says where its password comes from, and adds its own outputs; everything else is done here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

import pulumi
import pulumi_kubernetes as k8s

from statefulkit.args.common import coerce
from statefulkit.args.ensemble import EnsembleOptions
from statefulkit.args.workload import validate_name
from statefulkit.backups import register_backup, register_repository_secrets, register_restore_check
from statefulkit.manifest import manifest_kwargs
from statefulkit.render.ensemble import EnsembleRender
from statefulkit.render.tls import CERTIFICATE_API
from statefulkit.workload import StatefulWorkload

Args = TypeVar("Args", bound=EnsembleOptions)


class Ensemble(pulumi.ComponentResource, Generic[Args]):
    """A StatefulWorkload and the objects beside it: the password Secret (unless `existing_secret`
    names one), the renderer's ConfigMaps, with TLS from an issuer the Certificate, and with
    backups or a restore their objects (statefulkit.backups).

    Input is validated, and the whole workload rendered, before anything is registered: bad input
    raises a pydantic ValidationError and leaves no resource behind.

    Outputs of every ensemble: `headless_service_name`, `pod_dns_names`, `password_secret_name`
    (None without a password), and `workload`, the StatefulWorkload child."""

    pulumi_type: ClassVar[str]
    args_type: ClassVar[type[EnsembleOptions]]
    render_type: ClassVar[type[EnsembleRender[Any]]]
    # The created Secret keeps the data it was created with (a generated password must never change).
    keeps_first_password: ClassVar[bool] = False
    # The Args field a program fills from a secret of its stack config, `<key>_<field>`, if any.
    secret_field: ClassVar[str | None] = None
    # What a program exports of it: (export name suffix, output attribute).
    exports: ClassVar[tuple[tuple[str, str], ...]] = (
        ("headless_service", "headless_service_name"),
        ("backup_cron_job", "backup_cron_job_name"),
        ("backup_repository", "backup_repository"),
    )

    # Attribute types are declared in __init__, not on the class: the Pulumi SDK re-evaluates a
    # component class's annotations for every instance it registers.
    def __init__(self, name: str, args: Args | Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        validate_name(name)
        validated: Args = coerce(self.args_type, args)  # type: ignore[assignment]
        render: EnsembleRender[Args] = self.render_type(name, validated)
        render.workload_args()  # the whole workload validates before anything is registered
        super().__init__(self.pulumi_type, name, None, opts)
        self.args = validated
        self.render = render
        self._namespace = pulumi.Output.from_input(validated.namespace)
        secret_name = self._register_secret()
        self._register_beside_workload()
        self.repository_secrets = register_repository_secrets(self, render)
        # The Secret's Output name orders the StatefulSet after it. The other objects are only
        # ordered before it (depends_on, no property dependency): a ConfigMap whose data changes is
        # replaced (its fixed name means delete-before-replace), and the engine would replace along
        # with it every resource whose properties came from it, the whole ensemble for a scale.
        self.workload_args = render.workload_args(secret_name)
        ordered_after = [
            *self.config_maps,
            *([self.certificate] if self.certificate else []),
            *self.repository_secrets,
            *register_restore_check(self, render, self.repository_secrets),
        ]
        self.workload = StatefulWorkload(
            name, self.workload_args, opts=pulumi.ResourceOptions(parent=self, depends_on=ordered_after)
        )
        self.backup_cron_job = register_backup(self, render, self._namespace, [self.workload, *self.repository_secrets])
        self.register_outputs({**self._shared_outputs(), **self._backup_outputs(), **self._outputs()})

    def _register_secret(self) -> Any:
        """The password Secret, when the component creates one; its Output name, else None."""
        self.secret: k8s.core.v1.Secret | None = None
        if not self.render.creates_secret():
            return None
        self.secret = k8s.core.v1.Secret(
            self.render.secret_name(),
            **manifest_kwargs(self.render.secret(self._password())),
            opts=pulumi.ResourceOptions(
                parent=self,
                additional_secret_outputs=["data", "stringData"],
                ignore_changes=["data", "stringData"] if self.keeps_first_password else None,
            ),
        )
        return self.secret.metadata.name

    def _register_beside_workload(self) -> None:
        """The renderer's ConfigMaps and, with TLS from an issuer, the Certificate."""
        render, child = self.render, pulumi.ResourceOptions(parent=self)
        self.config_maps = [
            k8s.core.v1.ConfigMap(manifest["metadata"]["name"], **manifest_kwargs(manifest), opts=child)
            for manifest in render.config_maps()
        ]
        self.certificate: k8s.apiextensions.CustomResource | None = None
        if render.issues_certificate():
            # cert-manager writes the Secret; the pods mount it by name and start once it exists
            # (kubelet retries the mount), so the StatefulSet need only be registered after it.
            self.certificate = k8s.apiextensions.CustomResource(
                render.certificate_name(),
                api_version=CERTIFICATE_API[0],
                kind=CERTIFICATE_API[1],
                metadata=render.metadata(render.certificate_name()),
                # The names it certifies hold the namespace, which may still be an Output.
                spec=self._namespace.apply(render.certificate_spec),
                opts=child,
            )

    def _backup_outputs(self) -> dict[str, Any]:
        self.backup_cron_job_name: pulumi.Output[str] | None = None
        self.backup_repository: pulumi.Output[str] | None = None
        if self.backup_cron_job is not None:  # registered exactly when args.backup is set
            assert self.args.backup is not None
            self.backup_cron_job_name = self.backup_cron_job.metadata.name
            self.backup_repository = pulumi.Output.from_input(self.args.backup.repository.url())
        return {"backup_cron_job_name": self.backup_cron_job_name, "backup_repository": self.backup_repository}

    def _shared_outputs(self) -> dict[str, Any]:
        self.headless_service_name: pulumi.Output[str] = self.workload.headless_service.metadata.name
        self.password_secret_name: pulumi.Output[str] | None = None
        if self.secret is not None:
            self.password_secret_name = self.secret.metadata.name
        elif self.render.needs_password() and self.args.existing_secret is not None:
            self.password_secret_name = pulumi.Output.from_input(self.args.existing_secret.name)
        self.pod_dns_names = self._namespace.apply(self.render.pod_dns_names)
        return {
            "headless_service_name": self.headless_service_name,
            "pod_dns_names": self.pod_dns_names,
            "password_secret_name": self.password_secret_name,
        }

    def _password(self) -> pulumi.Output[str]:
        """The password of the Secret the component creates."""
        raise NotImplementedError(f"{type(self).__name__} must say where its password comes from (_password)")

    def _outputs(self) -> dict[str, Any]:
        """The ensemble's own outputs, set as attributes and registered."""
        return {}

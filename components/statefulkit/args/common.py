"""Shared field types and validators for the Args models.

Every rule that can reject user input lives in this package, so a bad value always
surfaces as a pydantic ValidationError that names the field, the value and the rule.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self, TypeVar

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    model_validator,
)
from pydantic.functional_validators import ModelWrapValidatorHandler  # `from pydantic` only since 2.11
from pydantic_core import InitErrorDetails, PydanticCustomError

# DNS-1035 label: what Kubernetes requires of Service names (and what we demand of a
# workload name, because it prefixes the headless Service).
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# DNS-1123 label: namespaces, volume and container names.
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# DNS-1123 subdomain: cluster-scoped object names such as StorageClasses.
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# IANA_SVC_NAME: container and Service port names.
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]|[eE][+-]?\d+)?$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL: dict[str, Decimal] = {
    "m": Decimal("0.001"),
    **{s: Decimal(10) ** (3 * (i + 1)) for i, s in enumerate("kMGTPE")},
}
_PERCENT = re.compile(r"^(\d{1,3})%$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# Longest StatefulSet name that leaves room for the controller-revision-hash label
# value `<sts>-<10 chars>` within the 63-character label limit.
MAX_WORKLOAD_NAME = 52
# How alike (difflib's ratio) a mistyped key and a field name must be for the field to be suggested.
SUGGESTION_CUTOFF = 0.75

# Where a value sits in the user's input: field names and list indexes, as pydantic's `loc`.
Loc = tuple[str | int, ...]


class StrictModel(BaseModel):
    """Base of every Args model: immutable, unknown keys rejected, enums kept as values.

    `renamed_fields` maps a field's old (deprecated) name to its new one: the old name still
    works, with a DeprecationWarning naming the new one."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        arbitrary_types_allowed=True,
        use_enum_values=False,
    )
    renamed_fields: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _rename_deprecated_fields(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not cls.renamed_fields.keys() & data.keys():
            return data
        data = dict(data)
        for old, new in cls.renamed_fields.items():
            if old not in data:
                continue
            if new in data:
                raise ValueError(f"{old} and {new} are both set; {old} is the deprecated name of {new}: keep {new}")
            warnings.warn(f"{cls.__name__}.{old} is deprecated: use {new}", DeprecationWarning, stacklevel=2)
            data[new] = data.pop(old)
        return data

    @model_validator(mode="wrap")
    @classmethod
    def _suggest_fields_for_unknown_keys(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """An unknown key of this model says which field it most likely meant (each nested model
        names its own, so `sentinel.quorom` suggests SentinelSettings' `quorum`)."""
        try:
            return handler(data)
        except ValidationError as error:
            spellings = {**{name: name for name in cls.model_fields}, **cls.renamed_fields}
            suggested = [_suggest(e, spellings) for e in error.errors()]
            if all(s is None for s in suggested):
                raise
            line_errors = [_line_error(e) if s is None else s for e, s in zip(error.errors(), suggested, strict=True)]
            raise ValidationError.from_exception_data(error.title, line_errors) from None


Model = TypeVar("Model", bound=BaseModel)


def closest_name(key: str, spellings: Mapping[str, str]) -> str | None:
    """The name a mistyped `key` most likely meant, or None when none is close. `spellings` maps
    each accepted spelling (field names, deprecated names) to the name to suggest for it.

    Case, '_' and '-' do not count (`storageSize` means `storage_size`); then the closest spelling
    by difflib's ratio, or the one spelling the key extends (`heap_size`: `heap`) or abbreviates
    (`down_after`: `down_after_milliseconds`)."""

    def plain(text: str) -> str:
        return text.lower().replace("_", "").replace("-", "")

    by_plain = {plain(spelling): name for spelling, name in spellings.items()}
    typed = plain(key)
    if typed in by_plain:
        return by_plain[typed]
    close = difflib.get_close_matches(typed, list(by_plain), n=1, cutoff=SUGGESTION_CUTOFF)
    if close:
        return by_plain[close[0]]
    extended = sorted((s for s in by_plain if len(s) >= 3 and typed.startswith(s)), key=len)
    if extended:
        return by_plain[extended[-1]]
    abbreviated = {by_plain[s] for s in by_plain if len(typed) >= 4 and s.startswith(typed)}
    return abbreviated.pop() if len(abbreviated) == 1 else None


def _suggest(error: Any, spellings: Mapping[str, str]) -> InitErrorDetails | None:
    """pydantic's own error for an unknown key of this model (a one-part loc), with the field it
    most likely meant; None when it is another error, or nothing is close."""
    loc = error["loc"]
    if error["type"] != "extra_forbidden" or len(loc) != 1 or "url" not in error:
        return None
    suggestion = closest_name(str(loc[0]), spellings)
    if suggestion is None:
        return None
    kind = PydanticCustomError(
        "extra_forbidden", "unknown field; did you mean '{suggestion}'?", {"suggestion": suggestion}
    )
    return InitErrorDetails(type=kind, loc=loc, input=error["input"])


def _line_error(error: Any) -> InitErrorDetails:
    """An error of a ValidationError, to raise again unchanged: pydantic's own kinds by their type
    (their message is made from it), the others (no `url`) with their message as it is."""
    if "url" in error:
        return InitErrorDetails(type=error["type"], loc=error["loc"], input=error["input"], ctx=error.get("ctx", {}))
    kind = PydanticCustomError(error["type"], error["msg"], error.get("ctx"))
    return InitErrorDetails(type=kind, loc=error["loc"], input=error["input"])


def refusal(title: str, problems: Sequence[tuple[Loc, Any, str]]) -> ValidationError:
    """A ValidationError with one error per (loc, value, message): for a rule between fields that
    blames one field the user wrote, so the error points there (`sidecars.0.name`) rather than
    at the whole model. Each message names the value itself, since RedisArgs hides inputs."""
    errors = [
        InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=value)
        for loc, value, message in problems
    ]
    return ValidationError.from_exception_data(title, errors)


def field_path(loc: Loc) -> str:
    """A loc as a user reads a key path: `sidecars[0].ports[1].name`, `extra_env.POD_NAMESPACE`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


def duplicates(values: list[Any]) -> list[Any]:
    """The values that occur more than once, each once, in order of first appearance."""
    return [value for value, count in Counter(values).items() if count > 1]


def coerce(model: type[Model], args: Model | Mapping[str, Any]) -> Model:
    """Accept the model or a plain dict (as stack config delivers it) and validate the dict."""
    return args if isinstance(args, model) else model.model_validate(dict(args))


def at_least(field: str, minimum: int, unit: str = "") -> AfterValidator:
    """A lower bound whose message carries the field and the value itself (RedisArgs hides raw
    inputs from pydantic's own messages, so a bare `ge=` would not name the value)."""

    def check(value: int) -> int:
        if value < minimum:
            why = f": at least {minimum} {unit}" if unit else ""
            rule = f"it must be greater than or equal to {minimum}{why}"
            raise ValueError(f"{field}={value!r} is below the minimum of {minimum}; {rule}")
        return value

    return AfterValidator(check)


def _dns1035(value: str) -> str:
    if len(value) > MAX_WORKLOAD_NAME:
        raise ValueError(
            f"{value!r} is {len(value)} characters; a StatefulSet name must be at most "
            f"{MAX_WORKLOAD_NAME} so the controller-revision-hash label fits in 63"
        )
    if not _DNS1035.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1035 label (lowercase letters, digits and '-', "
            "starting with a letter and ending with a letter or digit)"
        )
    return value


def _dns_name(kind: str, pattern: re.Pattern[str], limit: int, characters: str) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) > limit or not pattern.match(value):
            raise ValueError(
                f"{value!r} is not a {kind} (at most {limit} {characters}, starting and ending with a letter or digit)"
            )
        return value

    return AfterValidator(check)


def _port_name(value: str) -> str:
    if len(value) > 15:
        raise ValueError(f"port name {value!r} is {len(value)} characters; the limit is 15 (IANA_SVC_NAME)")
    if not _PORT_NAME.match(value) or "--" in value or not re.search(r"[a-z]", value):
        raise ValueError(
            f"port name {value!r} is not an IANA_SVC_NAME (lowercase letters, digits and single '-', "
            "with at least one letter)"
        )
    return value


def parse_quantity(value: str) -> Decimal:
    """Return the numeric value of a Kubernetes quantity ('1Gi' -> 1073741824)."""
    match = _QUANTITY.match(value)
    if match is None:
        raise ValueError(
            f"{value!r} is not a Kubernetes quantity (a number with an optional suffix "
            "such as 500m, 128Mi, 10Gi, 1G or 1e3)"
        )
    number = Decimal(match["num"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    if suffix:
        return number * (Decimal(10) ** int(suffix[1:]))
    return number


def _quantity(value: str) -> str:
    if parse_quantity(value) < 0:
        raise ValueError(f"{value!r} is negative; a resource quantity must be zero or more")
    return value


def _storage_size(value: str) -> str:
    if parse_quantity(value) <= 0:
        raise ValueError(f"{value!r} is not a positive size; a volume needs at least one byte")
    return value


def _int_or_percent(value: int | str) -> int | str:
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is negative; use a count of pods (0 or more) or a percentage like '25%'")
        return value
    match = _PERCENT.match(value)
    if match is None or int(match[1]) > 100:
        raise ValueError(f"{value!r} is neither a pod count nor a percentage between '0%' and '100%'")
    return value


def _label_key(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    if (prefix and not _dns1123_subdomain_ok(prefix)) or len(name) > 63 or not _LABEL_NAME.match(name):
        raise ValueError(
            f"{value!r} is not a valid label key ([prefix/]name, name at most 63 alphanumerics, '-', '_', '.')"
        )
    return value


def _dns1123_subdomain_ok(value: str) -> bool:
    return len(value) <= 253 and bool(_DNS1123_SUBDOMAIN.match(value))


def _label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise ValueError(f"{value!r} is not a valid label value (at most 63 alphanumerics, '-', '_', '.')")
    return value


def _absolute_path(value: str) -> str:
    if not value.startswith("/") or "\x00" in value or ".." in value.split("/"):
        raise ValueError(f"{value!r} is not an absolute path without '..'")
    return value.rstrip("/") or "/"


WorkloadName = Annotated[str, AfterValidator(_dns1035)]
DnsLabel = Annotated[str, _dns_name("DNS-1123 label", _DNS1123_LABEL, 63, "lowercase letters, digits and '-'")]
DnsSubdomain = Annotated[
    str, _dns_name("DNS-1123 subdomain", _DNS1123_SUBDOMAIN, 253, "lowercase letters, digits, '-' and '.'")
]
PortName = Annotated[str, AfterValidator(_port_name)]
Quantity = Annotated[str, AfterValidator(_quantity)]
StorageSize = Annotated[str, AfterValidator(_storage_size)]
IntOrPercent = Annotated[int | str, AfterValidator(_int_or_percent)]
LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]
PortNumber = Annotated[int, Field(ge=1, le=65535)]


def is_output_like(value: Any) -> bool:
    """True for a Pulumi Output or other awaitable Input, which the models pass through unread."""
    return hasattr(value, "apply") and hasattr(value, "future")


def secret_check(field: str, what: str, config_example: str, alternative: str) -> PlainValidator:
    """The validator of a field that takes a Pulumi secret: any Output (it is wrapped with
    Output.secret), or None. A plain str is refused, redacted, so it never lands in the state."""

    def check(value: Any) -> Any:
        if value is None or is_output_like(value):
            return value
        if isinstance(value, str):
            raise ValueError(
                f"{field}=<plain str of {len(value)} characters, redacted>: {what} must be a Pulumi secret so it "
                f"never lands in the state in plain text. Pass pulumi.Output.secret(value), {config_example}, "
                f"another resource's Output, or {alternative}"
            )
        raise ValueError(
            f"{field} of type {type(value).__name__} is not a Pulumi Output[str]; pass pulumi.Output.secret(...) "
            f"or {config_example.split(' (', maxsplit=1)[0]}"
        )

    return PlainValidator(check)


def blocks_every_disruption(replicas: int, min_available: int | str | None, max_unavailable: int | str | None) -> bool:
    """Whether a PDB with these bounds would never allow a voluntary eviction of `replicas` healthy pods."""
    if replicas == 0:
        return False
    if max_unavailable is not None:
        return scaled_count(max_unavailable, replicas) == 0
    assert min_available is not None
    return scaled_count(min_available, replicas) >= replicas


def scaled_count(value: int | str, replicas: int) -> int:
    """Pods an int-or-percent bound stands for; Kubernetes rounds percentages up."""
    if isinstance(value, int):
        return value
    percent = int(value[:-1])
    return -(-percent * replicas // 100)


def _name_input(value: Any) -> Any:
    """A namespace or object name: a DNS-1123 label, or a Pulumi Output resolved at deploy time."""
    if is_output_like(value):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is neither a string nor a Pulumi Output[str]")
    if len(value) > 63 or not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", value):
        raise ValueError(f"{value!r} is not a DNS-1123 label (lowercase letters, digits and '-', at most 63)")
    return value


# str, or an Output[str] from another resource (a Namespace's metadata.name, a Secret's name).


# str, or an Output[str] from another resource (a Namespace's metadata.name, a Secret's name).
NameInput = Annotated[str | pulumi.Output[str], PlainValidator(_name_input)]


# A memory size as Redis writes it (k/m/g = 1000^n, kb/mb/gb = 1024^n) or as Kubernetes does (Ki, Mi, Gi).
_MEMORY = re.compile(r"^(?P<num>\d+)\s*(?P<unit>b|k|kb|m|mb|g|gb|ki|mi|gi|kib|mib|gib)?$", re.IGNORECASE)
_MEMORY_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1024,
    "ki": 1024,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1024**2,
    "mi": 1024**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1024**3,
    "gi": 1024**3,
    "gib": 1024**3,
}


def memory_bytes(value: int | str) -> int:
    """Bytes of a Redis memory size: 1048576, '100mb', '1gb', '512Mi' (Redis: k/m/g = 1000^n, kb/mb/gb = 1024^n)."""
    if isinstance(value, int):
        return value
    match = _MEMORY.match(value.strip())
    if match is None:
        raise ValueError(
            f"maxmemory={value!r} is not a size: use bytes (an int) or a number with one of the units "
            "b, k, kb, m, mb, g, gb (Redis) or Ki, Mi, Gi (Kubernetes), e.g. '256mb' or '1Gi'"
        )
    return int(match["num"]) * _MEMORY_UNITS[(match["unit"] or "").lower()]

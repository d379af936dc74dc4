"""Pulumi mocks that record every registration the way the engine would see it.

The stock mock monitor hands ``new_resource`` only the inputs. Review output also needs the
resource options (protect, retainOnDelete, dependsOn, ...) and must show what transforms
change, which the mock monitor records but does not run. :class:`RecordingMonitor` applies the
registered stack transforms and the resource's own transforms, as the engine does, and keeps
the transformed inputs with their options. It runs each transform through the SDK's own callback
(:func:`call_transform`), so a transform sees exactly the props it sees on the engine: secret
wrappers hoisted to the top-level property, never a ``pulumi.Output``
(:mod:`pyroscope_bundle.wiring.engine_props`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import rpc
from pulumi.runtime._callbacks import _CallbackServicer
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks, _resolve_callbacks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _sync_await

FAKE_ACCOUNT_ID = "123456789012"
FAKE_REGION = "us-east-1"


@dataclass
class RecordedResource:
    """One resource registration, after transforms."""

    type: str
    name: str
    urn: str
    parent_urn: str
    custom: bool
    remote: bool
    options: dict[str, Any]
    dependency_urns: list[str]
    inputs: dict[str, Any]
    # The resource's own transforms (the engine also runs them on its children, e.g. a Chart's).
    transforms: list[Any] = field(default_factory=list)
    # What the render adds about the resource (e.g. whether a Chart was expanded).
    notes: dict[str, Any] = field(default_factory=dict)
    # Its aliases (``recorded_aliases``): the former types/names the engine matches it by.
    aliases: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Recording:
    resources: list[RecordedResource] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)
    # The registered stack transforms (the render runs them on expanded chart objects too).
    stack_transforms: list[Any] = field(default_factory=list)


def recorded_aliases(aliases: Any) -> list[dict[str, str]]:
    """The registration's aliases as plain data: ``{"urn": ...}``, or the fields an alias spec
    sets (``type``, ``name``, ``parentUrn``, ...; an unset field means "as the resource is now").
    The review pairs a resource with its former type or name through them."""
    recorded: list[dict[str, str]] = []
    for alias in aliases:
        if alias.WhichOneof("alias") == "urn":
            recorded.append({"urn": alias.urn})
            continue
        spec = alias.spec
        fields = {"type": spec.type, "name": spec.name, "stack": spec.stack, "project": spec.project}
        if spec.WhichOneof("parent") == "parentUrn":
            fields["parentUrn"] = spec.parentUrn
        elif spec.WhichOneof("parent") == "noParent" and spec.noParent:
            fields["noParent"] = "true"
        recorded.append({key: value for key, value in fields.items() if value})
    unique = {tuple(sorted(alias.items())): alias for alias in recorded}
    return [unique[key] for key in sorted(unique)]


def placeholder(kind: str, name: str) -> str:
    """A stable, opaque stand-in for a value only the engine or a provider could produce."""
    digest = hashlib.sha256(f"{kind}/{name}".encode()).hexdigest()[:12]
    return f"mock-{kind}-{digest}"


class BundleMocks(Mocks):
    """Computed outputs shaped like the real providers' (ARNs, names, generated passwords)."""

    def __init__(self, region: str | None = None) -> None:
        # Every secret value these mocks made up: the render redacts them value by value.
        self.generated_secrets: list[str] = []
        # The AWS provider's region (the stack's aws:region): regional ARNs name it, as AWS would.
        self.region = region or FAKE_REGION

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        state: dict[str, Any] = dict(args.inputs)
        name = args.name
        token = args.typ
        physical_name = state.get("name") if isinstance(state.get("name"), str) else name
        # A resource's own region input (pulumi-aws 7) wins over the provider's.
        region = state["region"] if isinstance(state.get("region"), str) and state["region"] else self.region
        if token == "aws:secretsmanager/secret:Secret":
            arn = f"arn:aws:secretsmanager:{region}:{FAKE_ACCOUNT_ID}:secret:{physical_name}-AbCdEf"
            state.update(arn=arn, name=physical_name)
            return arn, state
        if token == "aws:iam/role:Role":
            state.update(arn=f"arn:aws:iam::{FAKE_ACCOUNT_ID}:role/{physical_name}", name=physical_name)
        elif token == "aws:iam/policy:Policy":
            state.update(arn=f"arn:aws:iam::{FAKE_ACCOUNT_ID}:policy/{physical_name}", name=physical_name)
        elif token in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            bucket = state.get("bucket") or physical_name
            state.update(arn=f"arn:aws:s3:::{bucket}", bucket=bucket)
        elif token == "aws:ecs/taskDefinition:TaskDefinition":
            family = state.get("family", name)
            state.update(arn=f"arn:aws:ecs:{region}:{FAKE_ACCOUNT_ID}:task-definition/{family}:1", revision=1)
        elif token.startswith("aws:"):
            service = token.split(":")[1].split("/")[0]
            state.setdefault("arn", f"arn:aws:{service}:{region}:{FAKE_ACCOUNT_ID}:{physical_name}")
        elif token in (
            "random:index/randomPassword:RandomPassword",
            "random:index/randomString:RandomString",
        ):
            password = placeholder("password", name)
            # Shaped like Go bcrypt output ($2a$10$...), as htpasswd content requires.
            bcrypt_hash = "$2a$10$" + placeholder("bcrypt", name)
            self.generated_secrets += [password, bcrypt_hash]
            state["result"] = rpc.wrap_rpc_secret(password)
            state["bcryptHash"] = rpc.wrap_rpc_secret(bcrypt_hash)
        elif token == "docker:index/remoteImage:RemoteImage":
            state.setdefault("repoDigest", f"{state.get('name', name)}@sha256:{'0' * 64}")
            state.setdefault("imageId", placeholder("image", str(state.get("name", name))))
        return f"{name}-id", state

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": FAKE_ACCOUNT_ID,
                "arn": f"arn:aws:iam::{FAKE_ACCOUNT_ID}:user/render",
                "userId": "render",
            }, []
        if args.token in ("aws:index/getRegion:getRegion",):
            return {"name": self.region, "region": self.region, "id": self.region}, []
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        return {}, []


def deserialize_exact(struct: Any) -> dict[str, Any]:
    """Registered inputs with each secret wrapped where it is, not hoisted to its container.

    ``rpc.deserialize_properties`` marks a whole list or object secret when one value inside is
    (e.g. all of a container's ``uploads`` for one secret file), which would hide every
    non-secret sibling from the review output. Secrets stay wrapped, so redaction still works.
    """
    return {key: _exact(value) for key, value in struct.items()}


def _exact(value: Any) -> Any:
    if isinstance(value, rpc.struct_pb2.Struct):
        # protobuf's Struct has no .get().
        signature = value[rpc._special_sig_key] if rpc._special_sig_key in value else None  # noqa: SIM401
        if signature == rpc._special_secret_sig:
            return rpc.wrap_rpc_secret(_exact(value["value"]))
        if signature is not None:
            return rpc.deserialize_property(value, keep_unknowns=True)
        return {key: _exact(item) for key, item in value.items()}
    if isinstance(value, rpc.struct_pb2.ListValue):
        return [_exact(item) for item in value]
    return rpc.deserialize_property(value, keep_unknowns=True)


async def call_transform(
    transform: Any, request: resource_pb2.TransformRequest
) -> resource_pb2.TransformResponse:
    """What the engine does with a registered transform: call the SDK's callback for it.

    The callback (``pulumi/runtime/_callbacks.py``, ``register_transform``) deserializes the
    request's properties for the transform and serializes what it returns. The engine marshals
    the props it got from the SDK with secrets and unknowns kept, which for props the Python SDK
    serialized is the same struct (``sdk/go/common/resource/plugin/rpc.go``), so the request
    carries the registration's struct as it is.
    """
    for servicer in _CallbackServicer._servicers:
        token = servicer._transforms.get(transform)
        if token is not None and token in servicer._callbacks:
            message = await servicer._callbacks[token](request.SerializeToString())
            return resource_pb2.TransformResponse.FromString(message.SerializeToString())
    raise RuntimeError(f"transform {transform!r} was not registered with the SDK's callback servicer")


class RecordingMonitor(MockMonitor):
    """A mock monitor that applies transforms like the engine and records options and inputs."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.recording = Recording(stack_transforms=self._stack_transforms)
        self.stack_outputs: dict[str, Any] = {}
        self._lock = threading.Lock()
        # Called with each record while the program runs (the render expands Charts there).
        self.on_record: Callable[[RecordedResource], None] | None = None

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)
        own = _resolve_callbacks(request.transforms)
        for transform in [*own, *self._stack_transforms]:
            response = _sync_await(
                call_transform(
                    transform,
                    resource_pb2.TransformRequest(
                        type=request.type,
                        name=request.name,
                        custom=request.custom,
                        parent=request.parent,
                        properties=request.object,
                    ),
                )
            )
            request.object.CopyFrom(response.properties)
        response = super().RegisterResource(request)
        options = {
            "protect": bool(request.protect),
            "retainOnDelete": bool(request.retainOnDelete),
            "deleteBeforeReplace": bool(request.deleteBeforeReplace),
            "ignoreChanges": sorted(request.ignoreChanges),
            "replaceOnChanges": sorted(request.replaceOnChanges),
        }
        record = RecordedResource(
            type=request.type,
            name=request.name,
            urn=response.urn,
            parent_urn=request.parent,
            custom=bool(request.custom),
            remote=bool(request.remote),
            options=options,
            dependency_urns=list(request.dependencies),
            inputs=deserialize_exact(request.object),
            aliases=recorded_aliases(request.aliases),
            transforms=own,
        )
        with self._lock:
            self.recording.resources.append(record)
        if self.on_record is not None:
            self.on_record(record)
        return response

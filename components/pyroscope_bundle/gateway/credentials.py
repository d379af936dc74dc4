"""The gateway's basic-auth users, one set per role.

- push: one user per tenant (or the single user ``pyroscope``): what wired services and
  collectors send with; reaches the push APIs only.
- query: the same user names (the user name IS the tenant id with multi-tenancy) with other
  passwords, in another htpasswd file: what Grafana's datasources use; reaches the read APIs only.
- admin: one optional operator user (``server.gateway.adminCredential``), off by default.
- probe: the end-to-end probe's own user ``pyroscope-probe`` (when the probe is on), with one
  password in the push file and another in the query file: it can push and read back its own
  profiles and nothing else, and rotating or leaking it touches no service or datasource.

Each password is a pulumi-random ``RandomPassword`` (generated once, kept in the stack state)
unless one is given. The gateway only ever sees hashes. Generated passwords carry ~190 bits of
entropy, so a slow hash buys nothing and costs ~100 ms of CPU per request: they get nginx's
salted SHA-1 (``{SSHA}``, implemented in nginx itself, ``src/core/ngx_crypt.c``) with a salt
derived from the stack's key (:mod:`pyroscope_bundle.stack_key`), so re-runs never churn the
htpasswd. A given password shorter than :data:`FAST_HASH_MIN_LENGTH` keeps bcrypt. Both stay
Pulumi secrets: the htpasswd content is a secret Output and is only written into a
Kubernetes Secret or a Docker upload.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from pyroscope_bundle import constants
from pyroscope_bundle.component import BundleComponent
from pyroscope_bundle.gateway.routes import Role
from pyroscope_bundle.stack_key import derive, stack_key

# Letters and digits only: safe in env values, URLs and every SDK's config parser.
PASSWORD_LENGTH = 32
# Given passwords at least this long get the fast hash; shorter ones keep bcrypt.
FAST_HASH_MIN_LENGTH = 32
# Cost of hashes made here for short given passwords (Go's and pulumi-random's default).
BCRYPT_COST = 10
SALT_BYTES = 16
ADMIN_USER = "admin"
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_STANDARD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Hash formats nginx's auth_basic verifies: {SSHA} in nginx itself, bcrypt through glibc crypt.
HASH_PREFIXES = ("{SSHA}", "$2a$", "$2b$", "$2y$")


def gateway_users(multitenancy: bool, tenants: Sequence[str]) -> list[str]:
    """The basic-auth user names: the tenants with multi-tenancy, else one fixed user.

    With multi-tenancy the user name IS the tenant id the gateway sends to Pyroscope.
    """
    if multitenancy:
        return list(dict.fromkeys(tenants))
    return [constants.GATEWAY_SINGLE_USER]


def htpasswd_lines(hashes: Mapping[str, str]) -> str:
    """htpasswd content: ``user:hash`` per line, in a stable order (no churn on re-runs)."""
    for user, hashed in hashes.items():
        if not user or ":" in user or "\n" in user:
            raise ValueError(f"gateway user {user!r} is not allowed: no ':' or newline")
        if not hashed.startswith(HASH_PREFIXES) or "\n" in hashed:
            raise ValueError(f"gateway user {user!r}: the htpasswd entry must be an {{SSHA}} or bcrypt hash")
    return "".join(f"{user}:{hashes[user]}\n" for user in sorted(hashes))


def derived_salt(key: str, role: str, user: str) -> bytes:
    """A salt per stack, role and user: unique across stacks, stable across runs."""
    return derive(key, "gateway-salt", role, user)[:SALT_BYTES]


def ssha(password: str, salt: bytes) -> str:
    """nginx's ``{SSHA}``: base64(sha1(password + salt) + salt)."""
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - see module docstring
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def stable_bcrypt(user: str, password: str, cost: int = BCRYPT_COST) -> str:
    """bcrypt of a GIVEN short password with a salt derived from user and password.

    A fresh random salt on every ``pulumi up`` would change the htpasswd and restart the
    gateway each time; deriving it keeps the hash stable until the password changes.
    """
    import bcrypt  # runtime dependency only needed when passwords are given

    digest = hashlib.sha256(f"pyroscope-bundle-gateway\0{user}\0{password}".encode()).digest()[:16]
    salt_b64 = base64.b64encode(digest).decode().rstrip("=")
    salt = salt_b64.translate(str.maketrans(_STANDARD_ALPHABET, _BCRYPT_ALPHABET))[:22]
    hashed = bcrypt.hashpw(password.encode(), f"$2a${cost:02d}${salt}".encode())
    return hashed.decode()


def htpasswd_hash(role: str, user: str, password: str, key: str, *, generated: bool) -> str:
    """The fast salted hash for high-entropy passwords, bcrypt for short given ones."""
    if generated or len(password) >= FAST_HASH_MIN_LENGTH:
        return ssha(password, derived_salt(key, role, user))
    return stable_bcrypt(user, password)


@dataclass(frozen=True)
class GatewayUser:
    name: str
    role: Role
    # Both secret Outputs.
    password: pulumi.Output[str]
    hashed: pulumi.Output[str]


class GatewayCredentials(BundleComponent):
    """Basic-auth credentials for the gateway: one RandomPassword per user and role."""

    # Its token before tokens followed class names (aliased: deployed stacks keep it).
    FORMER_TYPES = ("pyroscope-bundle:gateway:Credentials",)

    # Push users (the historical ``users``), query users, the optional admin.
    users: dict[str, GatewayUser]
    query_users: dict[str, GatewayUser]
    admin: GatewayUser | None
    # The probe's push-only and read-only credentials (same user name, separate passwords).
    probe_push: GatewayUser | None
    probe_query: GatewayUser | None
    # Role -> htpasswd file content (secret).
    htpasswd: dict[Role, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        users: Sequence[str],
        *,
        admin: bool = False,
        probe: bool = False,
        given_passwords: Mapping[str, pulumi.Input[str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if not users:
            raise ValueError("the gateway needs at least one user (set pyroscope:server.tenants)")
        super().__init__(name, opts)
        import pulumi_random as random

        given = dict(given_passwords or {})
        unknown = sorted(set(given) - set(users))
        if unknown:
            raise ValueError(f"passwords given for unknown gateway users: {', '.join(unknown)}")
        if probe and constants.PROBE_GATEWAY_USER in users:
            raise ValueError(f"gateway user {constants.PROBE_GATEWAY_USER!r} is reserved for the probe")
        child = pulumi.ResourceOptions(parent=self)
        # The stack's key: generated once, kept secret in the state, shared with the rollout hash.
        key = stack_key()

        def make(role: Role, user: str, resource_name: str) -> GatewayUser:
            if role == "push" and user in given:
                password = pulumi.Output.secret(given[user])
                generated = False
            else:
                password = random.RandomPassword(
                    resource_name, length=PASSWORD_LENGTH, special=False, opts=child
                ).result
                generated = True
            hashed = pulumi.Output.all(password, key).apply(
                lambda args: htpasswd_hash(role, user, args[0], args[1], generated=generated)
            )
            return GatewayUser(user, role, pulumi.Output.secret(password), pulumi.Output.secret(hashed))

        # Push passwords keep their historical resource names (no rotation on upgrade); user
        # names are DNS labels, so a "." suffix never collides with another user's name.
        self.users = {user: make("push", user, f"{name}-{user}") for user in users}
        self.query_users = {user: make("query", user, f"{name}-{user}.query") for user in users}
        self.admin = make("admin", ADMIN_USER, f"{name}.admin") if admin else None
        probe_user = constants.PROBE_GATEWAY_USER
        self.probe_push = make("push", probe_user, f"{name}.probe") if probe else None
        self.probe_query = make("query", probe_user, f"{name}.probe.query") if probe else None
        self.htpasswd = {
            "push": _htpasswd({**self.users, **_named(self.probe_push)}),
            "query": _htpasswd({**self.query_users, **_named(self.probe_query)}),
        }
        if self.admin is not None:
            self.htpasswd["admin"] = _htpasswd({ADMIN_USER: self.admin})
        self.register_outputs({"users": list(self.users), "admin": admin, "probe": probe})

    def password(self, user: str) -> pulumi.Output[str]:
        return self.users[user].password


def _named(user: GatewayUser | None) -> dict[str, GatewayUser]:
    return {user.name: user} if user is not None else {}


def _htpasswd(users: Mapping[str, GatewayUser]) -> pulumi.Output[str]:
    names = list(users)
    return pulumi.Output.secret(
        pulumi.Output.all(*[users[user].hashed for user in names]).apply(functools.partial(_lines_for, names))
    )


def _lines_for(names: list[str], hashes: list[str]) -> str:
    return htpasswd_lines(dict(zip(names, hashes, strict=True)))

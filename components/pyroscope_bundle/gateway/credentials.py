"""The gateway's basic-auth users: one per tenant, or the single user ``pyroscope``.

Each password is a pulumi-random ``RandomPassword`` (generated once, kept in the stack state)
unless one is given. The gateway only ever sees bcrypt hashes; the passwords go to Grafana and
the wired services. Both stay Pulumi secrets: the htpasswd content is a secret Output and is
only written into a Kubernetes Secret or a Docker upload.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from pyroscope_bundle import constants
from pyroscope_bundle.config import BundleConfig

# Letters and digits only: safe in env values, URLs and every SDK's config parser.
PASSWORD_LENGTH = 32
# Cost of hashes made here for given passwords; pulumi-random uses Go's default (10) too.
BCRYPT_COST = 10
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_STANDARD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def gateway_users(config: BundleConfig) -> list[str]:
    """The basic-auth user names: the tenants with multi-tenancy, else one fixed user.

    With multi-tenancy the user name IS the tenant id the gateway sends to Pyroscope.
    """
    if config.server.multitenancy:
        return list(dict.fromkeys(config.server.tenants))
    return [constants.GATEWAY_SINGLE_USER]


def htpasswd_lines(hashes: Mapping[str, str]) -> str:
    """htpasswd content: ``user:hash`` per line, in a stable order (no churn on re-runs)."""
    for user, hashed in hashes.items():
        if not user or ":" in user or "\n" in user:
            raise ValueError(f"gateway user {user!r} is not allowed: no ':' or newline")
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise ValueError(f"gateway user {user!r}: the htpasswd entry must be a bcrypt hash")
    return "".join(f"{user}:{hashes[user]}\n" for user in sorted(hashes))


def stable_bcrypt(user: str, password: str, cost: int = BCRYPT_COST) -> str:
    """bcrypt of a GIVEN password with a salt derived from user and password.

    A fresh random salt on every ``pulumi up`` would change the htpasswd and restart the
    gateway each time; deriving it keeps the hash stable until the password changes.
    """
    import bcrypt  # runtime dependency only needed when passwords are given

    digest = hashlib.sha256(f"pyroscope-bundle-gateway\0{user}\0{password}".encode()).digest()[:16]
    salt_b64 = base64.b64encode(digest).decode().rstrip("=")
    salt = salt_b64.translate(str.maketrans(_STANDARD_ALPHABET, _BCRYPT_ALPHABET))[:22]
    hashed = bcrypt.hashpw(password.encode(), f"$2a${cost:02d}${salt}".encode())
    return hashed.decode()


def _hash_given(user: str, password: str) -> str:
    return stable_bcrypt(user, password)


@dataclass(frozen=True)
class GatewayUser:
    name: str
    # Both secret Outputs.
    password: pulumi.Output[str]
    bcrypt_hash: pulumi.Output[str]


class GatewayCredentials(pulumi.ComponentResource):
    """Basic-auth credentials for the gateway: one RandomPassword per user."""

    users: dict[str, GatewayUser]
    htpasswd: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        users: Sequence[str],
        given_passwords: Mapping[str, pulumi.Input[str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if not users:
            raise ValueError("the gateway needs at least one user (set pyroscope:server.tenants)")
        super().__init__("pyroscope-bundle:gateway:Credentials", name, None, opts)
        import pulumi_random as random

        given = dict(given_passwords or {})
        unknown = sorted(set(given) - set(users))
        if unknown:
            raise ValueError(f"passwords given for unknown gateway users: {', '.join(unknown)}")
        self.users = {}
        for user in users:
            if user in given:
                password = pulumi.Output.secret(given[user])
                hashed = password.apply(functools.partial(_hash_given, user))
            else:
                generated = random.RandomPassword(
                    f"{name}-{user}",
                    length=PASSWORD_LENGTH,
                    special=False,
                    opts=pulumi.ResourceOptions(parent=self),
                )
                password = generated.result
                hashed = generated.bcrypt_hash
            self.users[user] = GatewayUser(user, pulumi.Output.secret(password), pulumi.Output.secret(hashed))

        names = list(self.users)
        self.htpasswd = pulumi.Output.secret(
            pulumi.Output.all(*[self.users[user].bcrypt_hash for user in names]).apply(
                lambda hashes: htpasswd_lines(dict(zip(names, hashes, strict=True)))
            )
        )
        self.register_outputs({"users": names})

    def password(self, user: str) -> pulumi.Output[str]:
        return self.users[user].password

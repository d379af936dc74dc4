"""Redact secrets in review output value by value, and fingerprint them so a rotation shows.

A render knows every secret the program was given or generated (its *atoms*): the stack file's
``secure:`` values (as placeholders: the CLI alone can decrypt them), ``--set-secret`` values and
what the mocks generate for passwords and hashes. A generated file that holds one of them (a
datasource provisioning file with the gateway password, an htpasswd) is shown with only the
secret values replaced by ``[secret]``: its structure, keys, URLs, user names and headers stay
readable and the file still parses. Where the format is unknown, or a secret would survive the
redaction in any encoding, the whole value is ``[secret]`` - never the other way round.

Fingerprints let the review diff say "secret changed" without a value: a ``secure:`` value's is a
hash of its ciphertext (public in the stack file), a generated value's a hash of its mock
placeholder (not a real secret), a ``--set-secret`` value's a slow salted hash cut to 32 bits.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import yaml

from pyroscope_bundle.constants import REDACTED

FINGERPRINT_LENGTH = 12
# Fingerprints of user-given secret values: scrypt (about 50 ms, 16 MiB each) and 32 bits only,
# so a weak password cannot be looked up quickly from a render directory.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_USER_FINGERPRINT_HEX = 8
# A secret shorter than this is never searched for inside other text (it would match by chance).
MIN_ATOM_LENGTH = 6
_HTPASSWD_LINE = re.compile(r"([^:\s#][^:]*):(.+)")  # used with fullmatch


def public_fingerprint(text: str) -> str:
    """Fingerprint of a value that is not itself secret (a ciphertext, a mock placeholder)."""
    return hashlib.sha256(f"pyroscope-bundle-render\0{text}".encode()).hexdigest()[:FINGERPRINT_LENGTH]


def user_secret_fingerprint(key: str, value: str) -> str:
    """Fingerprint of a real secret value (``--set-secret``): slow, salted with its key, 32 bits."""
    digest = hashlib.scrypt(value.encode(), salt=f"pyroscope-bundle-render\0{key}".encode(), **_SCRYPT)
    return "u" + digest.hex()[:_USER_FINGERPRINT_HEX]


def encodings(atom: str) -> set[str]:
    """The forms a secret can take in generated output: plain, base64 (alone and as the
    ``user:password`` of a basic-auth header), URL-encoded and provisioning-escaped (``$$``)."""
    forms = {atom, quote(atom, safe=""), quote_plus(atom), atom.replace("$", "$$")}
    forms.add(base64.b64encode(atom.encode()).decode())
    forms.add(base64.b64encode(atom.encode()).decode().rstrip("="))
    return {form for form in forms if len(form) >= MIN_ATOM_LENGTH}


def basic_auth_forms(user: str, atom: str) -> set[str]:
    token = base64.b64encode(f"{user}:{atom}".encode()).decode()
    return {token, token.rstrip("=")}


@dataclass
class SecretAtoms:
    """Every secret value of one render, with its fingerprint."""

    fingerprints: dict[str, str] = field(default_factory=dict)

    def add(self, atom: str, fingerprint: str) -> None:
        if atom:
            self.fingerprints[atom] = fingerprint

    def add_generated(self, values: Iterable[str]) -> None:
        for value in values:
            self.add(value, public_fingerprint(value))

    def _forms(self) -> Iterator[tuple[str, str]]:
        """(encoded form, atom), longest first so a longer form is replaced before its parts."""
        pairs = {(form, atom) for atom in self.fingerprints for form in encodings(atom)}
        yield from sorted(pairs, key=lambda pair: (-len(pair[0]), pair[0]))

    def atoms_in(self, text: str) -> list[str]:
        """The atoms ``text`` contains in any encoding, sorted."""
        return sorted({atom for form, atom in self._forms() if form in text})

    def leaks(self, text: str, users: Iterable[str] = ()) -> bool:
        """Whether any secret appears in ``text`` in any encoding (basic-auth forms too)."""
        if self.atoms_in(text):
            return True
        return any(
            form in text
            for user in users
            for atom in self.fingerprints
            for form in basic_auth_forms(user, atom)
        )

    def replace_in(self, text: str) -> str:
        for form, _ in self._forms():
            text = text.replace(form, REDACTED)
        return text

    def fingerprint(self, value: Any) -> str:
        """Fingerprint of a secret value: of the atoms it holds (derived values: ``derived``)."""
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        found = self.atoms_in(text)
        if not found:
            return "derived"
        if len(found) == 1:
            return self.fingerprints[found[0]]
        return public_fingerprint(",".join(self.fingerprints[atom] for atom in found))

    # --- value-level redaction of known formats -------------------------------------------------

    def redact_text(self, text: str, hint: str = "") -> str:
        """``text`` (a secret value) with only the secret values replaced by ``[secret]``.

        ``hint`` is the file name or key it is stored under; it picks the format. The whole value
        becomes ``[secret]`` when the format is unknown and nothing recognisable is left, or when a
        secret would survive in any encoding.
        """
        name = hint.rsplit("/", 1)[-1].lower()
        htpasswd = name == "htpasswd" or name.endswith(".htpasswd")
        # Without a known secret inside, nothing tells the secret parts from the rest.
        redacted = self._redact_format(text, name) if htpasswd or self.atoms_in(text) else None
        if redacted is None or redacted.strip() == REDACTED or self.leaks(redacted):
            return REDACTED
        return redacted

    def _redact_format(self, text: str, name: str) -> str | None:
        if name == "htpasswd" or name.endswith(".htpasswd"):
            return _redact_htpasswd(text)
        if name.endswith((".yaml", ".yml")):
            return self._redact_yaml(text)
        if name.endswith(".json") or text.lstrip()[:1] in ("{", "["):
            parsed = _json_or_none(text)
            if parsed is not None:
                # The same layout as the original: indented when it was, compact otherwise.
                return json.dumps(self.redact_data(parsed), indent=2 if "\n" in text.strip() else None)
        if "\n" in text.strip() and self.atoms_in(text):
            # A text format the bundle writes (nginx.conf, an env file): the values alone.
            return self.replace_in(text)
        return None

    def _redact_yaml(self, text: str) -> str | None:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError:
            return None
        header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
        if not _starts_with_comments(text, header):
            header = ""
        body = yaml.safe_dump(self.redact_data(document), sort_keys=False, default_flow_style=False)
        return header + body

    def redact_data(self, value: Any) -> Any:
        """Parsed YAML/JSON with every string that holds a secret replaced by ``[secret]``."""
        if isinstance(value, Mapping):
            return {key: self.redact_data(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.redact_data(item) for item in value]
        if isinstance(value, str) and self.atoms_in(value):
            return REDACTED
        return value


def _starts_with_comments(text: str, header: str) -> bool:
    return bool(header) and text.startswith(header)


def _json_or_none(text: str) -> Any:
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict | list) else None


def _redact_htpasswd(text: str) -> str:
    """``user:hash`` lines as ``user:[secret]``: the users stay readable, no hash is shown."""
    lines = []
    for line in text.splitlines():
        match = _HTPASSWD_LINE.fullmatch(line)
        lines.append(f"{match.group(1)}:{REDACTED}" if match else line)
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")

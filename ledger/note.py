"""C2SP signed notes (Ed25519) and tlog-checkpoint bodies, byte-compatible with Go's
golang.org/x/mod/sumdb/note.

Keys: signer `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || 32-byte seed)>`, verifier
`<name>+<hex key id>+<base64(0x01 || 32-byte public key)>`, key id = the first 4 bytes of
SHA-256(name || "\\n" || 0x01 || public key). A signed note is the text (ending in a newline),
a blank line, then lines `— <name> <base64(key id || signature)>` (U+2014 em dash).

The checkpoint carries no timestamp: tlog-checkpoint calls extension lines NOT RECOMMENDED
(monitors cannot audit them), so the time a checkpoint was signed is kept beside it, unsigned.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = 0x01
MAX_SIGNATURES = 100  # as Go's Open: bounds the work an untrusted note can ask for
SIGNATURE_PREFIX = "— "
_KEY_ID = re.compile(r"[0-9a-f]{8}")
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")


class NoteError(ValueError):
    """A note, key or checkpoint is unusable; subclasses say why."""


class MalformedKey(NoteError):
    pass


class MalformedNote(NoteError):
    pass


class UnverifiedNote(NoteError):
    """No signature on the note is from a key we trust (unknown key, or wrong name)."""


class InvalidSignature(NoteError):
    """A signature claims to be from a trusted key but does not verify: reject the note."""


class MalformedCheckpoint(NoteError):
    pass


def strict_b64decode(text: str) -> bytes:
    """Standard base64 (RFC 4648 §4), padded and canonical; raises ValueError otherwise."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError("not standard base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return raw


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def is_valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def key_id(name: str, encoded_public_key: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + encoded_public_key).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: int
    public_key: bytes  # raw 32 bytes

    @property
    def key(self) -> str:
        """The verifier key string, as Go's note.NewVerifier reads it."""
        return f"{self.name}+{self.key_id:08x}+{b64encode(bytes([ALG_ED25519]) + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (_CryptoInvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    name: str
    key_id: int
    _private_key: Ed25519PrivateKey = field(repr=False, compare=False)

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, self._private_key.public_key().public_bytes_raw())

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)


def generate_key(name: str) -> tuple[str, str]:
    """A new (signer key, verifier key) pair of strings for the key name (our log's origin)."""
    if not is_valid_name(name):
        raise MalformedKey(f"key name {name!r} is empty or has a space or '+'")
    private = Ed25519PrivateKey.generate()
    public = bytes([ALG_ED25519]) + private.public_key().public_bytes_raw()
    seed = bytes([ALG_ED25519]) + private.private_bytes_raw()
    kid = key_id(name, public)
    return (
        f"PRIVATE+KEY+{name}+{kid:08x}+{b64encode(seed)}",
        f"{name}+{kid:08x}+{b64encode(public)}",
    )


def _parse_key(text: str, prefix: tuple[str, ...], what: str) -> tuple[str, int, bytes]:
    """(name, key id, 32 bytes of key material) from `[prefix+]name+keyid+base64(0x01||key)`."""
    fields = text.split("+", len(prefix) + 2)  # base64 may hold '+': the key takes the rest
    if len(fields) != len(prefix) + 3 or tuple(fields[: len(prefix)]) != prefix:
        raise MalformedKey(f"a {what} key is {'+'.join([*prefix, '<name>+<key id>+<key>'])}")
    name, kid, material = fields[len(prefix) :]
    if not is_valid_name(name) or not _KEY_ID.fullmatch(kid):
        raise MalformedKey(f"the {what} key's name or key id is malformed")
    try:
        raw = strict_b64decode(material)
    except ValueError:
        raise MalformedKey(f"the {what} key material is not base64") from None
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise MalformedKey(f"the {what} key is not an Ed25519 key (type 0x01, 32 bytes)")
    return name, int(kid, 16), raw[1:]


def parse_verifier(text: str) -> Verifier:
    name, kid, public = _parse_key(text, (), "verifier")
    if key_id(name, bytes([ALG_ED25519]) + public) != kid:
        raise MalformedKey("the verifier key id does not match its name and public key")
    return Verifier(name, kid, public)


def parse_signer(text: str) -> Signer:
    name, kid, seed = _parse_key(text, ("PRIVATE", "KEY"), "signer")
    signer = Signer(name, kid, Ed25519PrivateKey.from_private_bytes(seed))
    if key_id(name, bytes([ALG_ED25519]) + signer.verifier.public_key) != kid:
        raise MalformedKey("the signer key id does not match its name and key")
    return signer


def _check_note_characters(text: str) -> None:
    if any(ch < " " and ch != "\n" for ch in text):
        raise MalformedNote("a note may hold no control character but newline")


def sign_note(text: str, signer: Signer) -> str:
    """The signed note: text, a blank line, one signature line."""
    if not text.endswith("\n"):
        raise MalformedNote("note text must end with a newline")
    _check_note_characters(text)
    sig = signer.key_id.to_bytes(4, "big") + signer.sign(text.encode())
    return f"{text}\n{SIGNATURE_PREFIX}{signer.name} {b64encode(sig)}\n"


def open_note(note: str | bytes, verifiers: Verifier | Iterable[Verifier]) -> str:
    """The note's text, once a trusted key's signature on it verifies.

    Signatures from unknown keys are ignored (C2SP: witnesses and rotation add them); one bad
    signature from a trusted key rejects the whole note.
    """
    listed = [verifiers] if isinstance(verifiers, Verifier) else list(verifiers)
    trusted = {(v.name, v.key_id): v for v in listed}
    if len(trusted) != len(listed):
        raise MalformedKey("two trusted keys share a name and key id (ambiguous key)")
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedNote("a signed note is UTF-8 text") from None
    _check_note_characters(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("a signed note has a blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNote("a signed note ends with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"a note may carry at most {MAX_SIGNATURES} signatures")
    verified = 0
    for line in lines:
        name, sep, sig_b64 = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
        try:
            sig = strict_b64decode(sig_b64)
        except ValueError:
            sig = b""
        if (
            not line.startswith(SIGNATURE_PREFIX)
            or not sep
            or not is_valid_name(name)
            or len(sig) < 5
        ):
            raise MalformedNote("a signature line is '— <key name> <base64 signature>'")
        verifier = trusted.get((name, int.from_bytes(sig[:4], "big")))
        if verifier is None:
            continue
        if not verifier.verify(text.encode(), sig[4:]):
            raise InvalidSignature(f"the signature by {name}+{verifier.key_id:08x} does not verify")
        verified += 1
    if not verified:
        raise UnverifiedNote("the note carries no signature from a trusted key")
    return text


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), b64encode(self.root_hash), *self.extensions]
        if not self.origin or self.size < 0 or len(self.root_hash) != 32:
            raise MalformedCheckpoint(
                "a checkpoint needs an origin, a size >= 0 and a 32-byte root"
            )
        if any("\n" in line or not line for line in lines):
            raise MalformedCheckpoint("checkpoint lines are non-empty and hold no newline")
        return "".join(f"{line}\n" for line in lines)


def parse_checkpoint(body: str) -> Checkpoint:
    if not body.endswith("\n"):
        raise MalformedCheckpoint("a checkpoint body ends with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3 or not all(lines):
        raise MalformedCheckpoint("a checkpoint is at least three non-empty lines")
    origin, size, root_b64, *extensions = lines
    if not _TREE_SIZE.fullmatch(size):
        raise MalformedCheckpoint("the tree size is a decimal number without leading zeroes")
    try:
        root = strict_b64decode(root_b64)
    except ValueError:
        root = b""
    if len(root) != 32:
        raise MalformedCheckpoint("the root hash is the base64 of 32 bytes")
    return Checkpoint(origin, int(size), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    return sign_note(checkpoint.body(), signer)


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """The checkpoint in a note signed by the verifier's key, whose name must be its origin.

    Our logs name their key after their origin (tlog-checkpoint: the key name SHOULD match the
    origin), so a note signed by the right key for another log's origin is refused too.
    """
    checkpoint = parse_checkpoint(open_note(note, verifier))
    if checkpoint.origin != verifier.name:
        raise MalformedCheckpoint(
            f"checkpoint origin {checkpoint.origin!r} is not {verifier.name!r}"
        )
    return checkpoint

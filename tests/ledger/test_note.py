"""Signed notes and checkpoints against Go's golang.org/x/mod/sumdb/note test vectors
(note_test.go) and the C2SP signed-note and tlog-checkpoint examples."""

import hashlib

import pytest

from ledger import note
from ledger.note import Checkpoint

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIu"
    "GUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2ti"
    "OHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)
PETER = note.parse_verifier(PETER_VKEY)
ENOCH = note.parse_verifier(ENOCH_VKEY)


def test_go_keys_parse_to_the_same_name_id_and_public_key():
    signer = note.parse_signer(PETER_SKEY)
    assert (signer.name, signer.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert signer.verifier == PETER
    assert PETER.key == PETER_VKEY


def test_key_id_is_the_first_four_bytes_of_sha256_of_name_newline_type_and_key():
    digest = hashlib.sha256(b"PeterNeumann\n\x01" + PETER.public_key).digest()
    assert PETER.key_id == int.from_bytes(digest[:4], "big")


@pytest.mark.parametrize(
    ("key", "parse"), [(PETER_VKEY, note.parse_verifier), (PETER_SKEY, note.parse_signer)]
)
def test_every_mangling_of_a_go_key_is_refused(key, parse):
    """Go's TestNewVerifier/TestNewSigner: every proper substring and every byte+1 fails."""
    raw = key.encode()
    manglings = {raw[i:j] for i in range(len(raw) + 1) for j in range(i + 1, len(raw) + 1)} - {raw}
    manglings |= {raw[:i] + bytes([raw[i] + 1]) + raw[i + 1 :] for i in range(len(raw))}
    for mangled in manglings:
        with pytest.raises(note.MalformedKey):
            parse(mangled.decode("ascii"))


def test_go_wrong_length_and_unknown_algorithm_keys_are_refused():
    with pytest.raises(note.MalformedKey):  # also non-canonical base64 here: refused either way
        note.parse_verifier(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
    with pytest.raises(note.MalformedKey, match="Ed25519"):
        note.parse_verifier("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_signing_reproduces_gos_signed_note_byte_for_byte():
    assert note.sign_note(TEXT, note.parse_signer(PETER_SKEY)) == TEXT + "\n" + PETER_SIG


def test_go_signed_note_opens_and_unknown_signatures_are_ignored():
    assert note.open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, PETER) == TEXT
    assert note.open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER, ENOCH]) == TEXT
    assert note.open_note((TEXT + "\n" + ENOCH_SIG).encode(), [ENOCH]) == TEXT


def test_c2sp_signed_note_example_verifies():
    verifier = note.parse_verifier(
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    )
    signed = (
        "This is an example message.\n\n"
        "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONnc"
        "AlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
    )
    assert note.open_note(signed, verifier) == "This is an example message.\n"


def test_a_note_without_a_trusted_signature_is_refused():
    with pytest.raises(note.UnverifiedNote):
        note.open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    with pytest.raises(note.UnverifiedNote):  # Go: a signature under another name is not Peter's
        note.open_note(TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "CarmenSandiego"), PETER)
    with pytest.raises(note.UnverifiedNote):  # another key id
        note.open_note(TEXT + "\n" + PETER_SIG.replace("x08g", "xxxx"), PETER)


def test_a_bad_signature_from_a_trusted_key_rejects_the_note():
    with pytest.raises(note.InvalidSignature, match="PeterNeumann\\+c74f20a3"):
        note.open_note(TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], PETER)


def test_a_tampered_body_is_refused():
    tampered = TEXT.replace("don't", "do") + "\n" + PETER_SIG
    with pytest.raises(note.InvalidSignature):
        note.open_note(tampered, PETER)


def test_another_key_under_the_same_name_does_not_verify():
    _, other_vkey = note.generate_key("PeterNeumann")
    other = note.parse_verifier(other_vkey)
    with pytest.raises(note.UnverifiedNote):
        note.open_note(TEXT + "\n" + PETER_SIG, other)
    # Even a forged key with Peter's name and key id only earns a signature failure.
    impostor = note.Verifier("PeterNeumann", PETER.key_id, other.public_key)
    with pytest.raises(note.InvalidSignature):
        note.open_note(TEXT + "\n" + PETER_SIG, impostor)


@pytest.mark.parametrize(
    "message",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        b"\xff" + (TEXT + "\n" + PETER_SIG).encode(),
        TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name")[:-1],
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG * 101,
    ],
)
def test_go_malformed_notes_are_refused(message):
    with pytest.raises(note.MalformedNote):
        note.open_note(message, PETER)


def test_sign_refuses_text_without_final_newline():
    with pytest.raises(note.MalformedNote, match="newline"):
        note.sign_note("abc", note.parse_signer(PETER_SKEY))


def test_generated_keys_sign_and_verify_and_are_distinct():
    skey, vkey = note.generate_key("audit.example.com/log")
    skey2, _ = note.generate_key("audit.example.com/log")
    assert skey != skey2
    assert skey.startswith("PRIVATE+KEY+audit.example.com/log+")
    signer, verifier = note.parse_signer(skey), note.parse_verifier(vkey)
    assert signer.verifier == verifier
    assert note.open_note(note.sign_note("hello\n", signer), verifier) == "hello\n"
    with pytest.raises(note.MalformedKey):
        note.generate_key("has space")


def test_c2sp_checkpoint_example_body_parses():
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    checkpoint = note.parse_checkpoint(body)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert len(checkpoint.root_hash) == 32 and checkpoint.extensions == ()
    assert checkpoint.body() == body


ROOT_B64 = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="


@pytest.mark.parametrize(
    "body",
    [
        f"log\n7\n{ROOT_B64}",  # no final newline
        "log\n7\n",
        f"\n7\n{ROOT_B64}\n",
        f"log\n07\n{ROOT_B64}\n",
        f"log\n-1\n{ROOT_B64}\n",
        f"log\n+7\n{ROOT_B64}\n",
        f"log\n 7\n{ROOT_B64}\n",
        f"log\n\u0667\n{ROOT_B64}\n",  # a digit, but not ASCII
        "log\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",  # unpadded
        "log\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",  # non-canonical
        "log\n7\nAAAA\n",
        f"log\n7\n{ROOT_B64}\n\n",  # empty extension line
    ],
)
def test_malformed_checkpoints_are_refused(body):
    with pytest.raises(note.MalformedCheckpoint):
        note.parse_checkpoint(body)


def test_checkpoint_round_trips_through_a_signed_note():
    skey, vkey = note.generate_key("audit.example.com/log")
    checkpoint = Checkpoint("audit.example.com/log", 0, hashlib.sha256(b"").digest())
    signed = note.sign_checkpoint(checkpoint, note.parse_signer(skey))
    assert signed.startswith(
        "audit.example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— "
    )
    assert note.open_checkpoint(signed, note.parse_verifier(vkey)) == checkpoint


def test_a_checkpoint_for_another_origin_is_refused_even_if_signed():
    skey, vkey = note.generate_key("audit.example.com/log")
    other = Checkpoint("elsewhere.example/log", 3, bytes(32))
    signed = note.sign_checkpoint(other, note.parse_signer(skey))
    with pytest.raises(note.MalformedCheckpoint, match="origin"):
        note.open_checkpoint(signed, note.parse_verifier(vkey))


def test_two_trusted_keys_with_one_name_and_id_are_ambiguous():
    with pytest.raises(note.MalformedKey, match="ambiguous"):
        note.open_note(TEXT + "\n" + ENOCH_SIG, [ENOCH, PETER, ENOCH])

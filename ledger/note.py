# TEMPORARY stand-in until the core branch lands
import base64


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign_note(body: str, signer: str) -> str:
    return body + "\n— stub AAAA\n"


def key_name(key: str) -> str:
    parts = key.split("+")
    return parts[2] if key.startswith("PRIVATE+KEY+") else parts[0]

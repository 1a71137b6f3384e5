"""Model artifacts: pickled, compressed, named by sha256 and signed with HMAC-SHA256.

Unpickling runs code, so an artifact is only unpickled after its checksum and its signature
under the deployment's key (``DRIFTLINE_MODEL_KEY``) are verified.

>>> art = pack({"w": 1.0}, b"k" * 32)
>>> unpack(art.blob, art.sha256, art.signature, b"k" * 32)
{'w': 1.0}
>>> unpack(art.blob, art.sha256, art.signature, b"x" * 32)
Traceback (most recent call last):
...
streams.state.artifacts.ArtifactRefused: artifact signature does not verify under this deployment's key
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
import zlib
from dataclasses import dataclass
from typing import Any


class ArtifactRefused(ValueError):
    """An artifact that must not be loaded: a bad checksum or signature."""


@dataclass(frozen=True)
class Artifact:
    blob: bytes  # zlib-compressed pickle
    sha256: str  # of ``blob``
    signature: str  # HMAC-SHA256 of ``blob`` under the model key, hex


def sign(blob: bytes, key: bytes) -> str:
    return hmac.new(key, blob, hashlib.sha256).hexdigest()


def pack(model: Any, key: bytes) -> Artifact:
    """Pickle, compress, checksum and sign a model."""
    blob = zlib.compress(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), 6)
    return Artifact(blob, hashlib.sha256(blob).hexdigest(), sign(blob, key))


def unpack(blob: bytes, sha256: str, signature: str, key: bytes) -> Any:
    """The model in an artifact, only once its checksum and signature are verified."""
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise ArtifactRefused("artifact checksum mismatch: the stored bytes are not the published ones")
    if not hmac.compare_digest(sign(blob, key), signature):
        raise ArtifactRefused("artifact signature does not verify under this deployment's key")
    return pickle.loads(zlib.decompress(blob))  # noqa: S301 - verified above

"""Model artifacts: pickled, compressed, named by sha256 and signed with HMAC-SHA256.

Unpickling runs code, so an artifact is only unpickled after its checksum and its signature
under the deployment's key (``DRIFTLINE_MODEL_KEY``) are verified. The signature also covers
what the artifact is (its context: "model version 7", "trainer checkpoint"), so a genuine
artifact replayed as something else, such as an old model under a new version number, is refused.

>>> art = pack({"w": 1.0}, b"k" * 32, "model version 1")
>>> unpack(art.blob, art.sha256, art.signature, b"k" * 32, "model version 1")
{'w': 1.0}
>>> unpack(art.blob, art.sha256, art.signature, b"x" * 32, "model version 1")
Traceback (most recent call last):
...
streams.state.artifacts.ArtifactRefused: artifact signature does not verify under this deployment's key for model version 1
>>> unpack(art.blob, art.sha256, art.signature, b"k" * 32, "model version 9")
Traceback (most recent call last):
...
streams.state.artifacts.ArtifactRefused: artifact signature does not verify under this deployment's key for model version 9
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
    signature: str  # HMAC-SHA256 of the context, a newline and ``blob``, under the model key, hex


def artifact_context(version: int) -> str:
    """What a model version's artifact is signed as."""
    return f"model version {version}"


def sign(blob: bytes, key: bytes, context: str) -> str:
    return hmac.new(key, context.encode() + b"\n" + blob, hashlib.sha256).hexdigest()


def pack(model: Any, key: bytes, context: str, level: int = 6) -> Artifact:
    """Pickle, compress (zlib ``level``), checksum and sign a model as what it is (``context``)."""
    blob = zlib.compress(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), level)
    return Artifact(blob, hashlib.sha256(blob).hexdigest(), sign(blob, key, context))


def unpack(blob: bytes, sha256: str, signature: str, key: bytes, context: str) -> Any:
    """The model in an artifact, only once its checksum and its signature as ``context`` are verified."""
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise ArtifactRefused("artifact checksum mismatch: the stored bytes are not the published ones")
    if not hmac.compare_digest(sign(blob, key, context), signature):
        raise ArtifactRefused(f"artifact signature does not verify under this deployment's key for {context}")
    return pickle.loads(zlib.decompress(blob))  # noqa: S301 - verified above

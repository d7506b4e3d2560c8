"""Signing a delivered MP4 with a C2PA manifest (the user's certificate chain and key, from settings) and
reading one back with verification, through the official `c2pa-python` bindings.

The private key is read only to sign; it is never printed, logged or copied into a run file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..errors import ConfigError, InputFileError, MissingDependencyError
from ..media.util import atomic_output, check_distinct
from .manifest import ASSERTION, ProvenanceFacts, manifest_json

MAX_PEM_BYTES = 1 << 20
INSTALL = "pip install 'reelwright[c2pa]'"


def _c2pa():
    try:
        import c2pa
    except ImportError as exc:
        raise MissingDependencyError("c2pa-python (C2PA manifests)", INSTALL) from exc
    return c2pa


class SigningIdentity:
    """A certificate chain (PEM, signer first) and its private key, checked to belong together."""

    def __init__(self, cert: Path, key: Path):
        self.cert_path, self.key_path = Path(cert), Path(key)
        self.chain = _read_pem(self.cert_path, "certificate")
        self._key = _read_pem(self.key_path, "private key")
        self.alg, self.signer_name = _check_pair(self.chain, self._key, self.cert_path, self.key_path)

    def __repr__(self) -> str:  # never the key
        return f"SigningIdentity(cert={str(self.cert_path)!r}, alg={self.alg!r})"

    def signer(self):
        c2pa = _c2pa()
        info = c2pa.C2paSignerInfo(alg=self.alg.encode(), sign_cert=self.chain, private_key=self._key, ta_url=None)
        try:
            return c2pa.Signer.from_info(info)
        except c2pa.C2paError as exc:
            raise ConfigError(f"cannot sign with {self.cert_path}: {_first_line(exc)}") from None


def signing_identity(cert: Path | str | None, key: Path | str | None) -> SigningIdentity | None:
    """The identity from `sign_cert`/`sign_key` (paths), checked now; None when neither is configured."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError("signing needs both sign_cert and sign_key (a PEM chain and its private key)")
    return SigningIdentity(Path(cert), Path(key))


def sign_video(src: Path, dst: Path, facts: ProvenanceFacts, identity: SigningIdentity) -> Path:
    """Write `src` with an embedded, signed C2PA manifest to `dst` (atomically; `src` is left as it is)."""
    c2pa = _c2pa()
    check_distinct(src, dst)
    manifest = manifest_json(facts)
    signer = identity.signer()
    try:
        with c2pa.Builder(manifest) as builder, atomic_output(dst) as tmp:
            with Path(src).open("rb") as fin, tmp.open("w+b") as fout:
                builder.sign(signer, "video/mp4", fin, fout)
    except c2pa.C2paError as exc:
        # The file and the manifest are ours; what the library refuses is the certificate or key.
        raise ConfigError(f"cannot sign with {identity.cert_path}: {_first_line(exc)}") from None
    finally:
        signer.close()
    return Path(dst)


class ActionInfo(BaseModel):
    action: str
    source_type: str | None = None
    description: str | None = None


class ProvenanceReport(BaseModel):
    """What a reader finds in a file: whether a manifest is there, whether it verifies, and what it says."""

    present: bool
    state: str | None = None  # c2pa's validation state: Invalid, Valid, Trusted
    valid: bool = False  # the signature and every hash verify (the file is as signed)
    trusted: bool = False  # ... and the signer chains to a given trust anchor
    signer: str | None = None
    issuer: str | None = None
    claim_generator: str | None = None
    actions: list[ActionInfo] = Field(default_factory=list)
    production: dict[str, Any] | None = None
    failures: list[str] = Field(default_factory=list)


def read_provenance(path: Path, *, trust_anchors: Path | None = None) -> ProvenanceReport:
    """Read and verify the file's C2PA manifest. Trust is judged against `trust_anchors` (PEM) when given."""
    c2pa = _c2pa()
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"no such file: {path}")
    context = None
    if trust_anchors is not None:
        pem = _read_pem(Path(trust_anchors), "trust anchor").decode("ascii", "replace")
        context = c2pa.Context(settings=c2pa.Settings.from_dict({"trust": {"trust_anchors": pem},
                                                                 "verify": {"verify_trust": True}}))
    try:
        with path.open("rb") as fh:
            reader = c2pa.Reader.try_create("video/mp4", fh, None, context)
            if reader is None:
                return ProvenanceReport(present=False)
            with reader:
                store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        return ProvenanceReport(present=True, state="Invalid", failures=[_first_line(exc)])
    active = (store.get("manifests") or {}).get(store.get("active_manifest") or "", {})
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    # An untrusted signer is a statement about trust lists, not damage: it is reported as `trusted`.
    failures = [f"{f.get('code')}: {f.get('explanation', '')}".strip() for f in results.get("failure", [])
                if f.get("code") != "signingCredential.untrusted"]
    state = store.get("validation_state")
    report = ProvenanceReport(present=True, state=state, valid=state in ("Valid", "Trusted") and not failures,
                              trusted=state == "Trusted", failures=failures)
    sig = active.get("signature_info") or {}
    report.signer, report.issuer = sig.get("common_name"), sig.get("issuer")
    gen = (active.get("claim_generator_info") or [{}])[0]
    report.claim_generator = " ".join(str(gen.get(k)) for k in ("name", "version") if gen.get(k)) or None
    for assertion in active.get("assertions") or []:
        label, data = assertion.get("label", ""), assertion.get("data") or {}
        if label.startswith("c2pa.actions"):
            report.actions += [ActionInfo(action=a.get("action", "?"), source_type=a.get("digitalSourceType"),
                                          description=(a.get("parameters") or {}).get("description"))
                               for a in data.get("actions", [])]
        elif label == ASSERTION:
            report.production = data
    return report


def _read_pem(path: Path, what: str) -> bytes:
    try:
        if not path.is_file():
            raise ConfigError(f"the signing {what} {path} does not exist")
        if path.stat().st_size > MAX_PEM_BYTES:
            raise ConfigError(f"the signing {what} {path} is too large to be a PEM file")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the signing {what} {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in data:
        raise ConfigError(f"the signing {what} {path} is not PEM")
    return data


def _check_pair(chain: bytes, key: bytes, cert_path: Path, key_path: Path) -> tuple[str, str]:
    """The c2pa algorithm for the key, after checking the key signs for the chain's first certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.x509.oid import NameOID

    try:
        certs = x509.load_pem_x509_certificates(chain)
    except ValueError:
        raise ConfigError(f"the signing certificate {cert_path} holds no readable certificate") from None
    try:
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError):
        # The library's message can quote the key's structure: say only what is wrong with the file.
        raise ConfigError(f"the signing key {key_path} is not an unencrypted PEM private key") from None
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if certs[0].public_key().public_bytes(enc, pub) != private.public_key().public_bytes(enc, pub):
        raise ConfigError(f"the signing key {key_path} does not belong to the first certificate in {cert_path}")
    if len(certs) < 2:
        raise ConfigError(f"the signing certificate {cert_path} must hold the chain (signer, then its CA): "
                          "C2PA refuses a self-signed signer")
    if isinstance(private, ec.EllipticCurvePrivateKey):
        alg = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(private.curve.name)
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        alg = "ed25519"
    elif isinstance(private, rsa.RSAPrivateKey):
        alg = "ps256"
    else:
        alg = None
    if alg is None:
        raise ConfigError(f"the signing key {key_path} is of a kind C2PA does not sign with: use EC P-256/384/521, "
                          "Ed25519 or RSA")
    names = certs[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return alg, str(names[0].value) if names else "?"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

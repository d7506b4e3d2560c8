"""A fake fal queue API on 127.0.0.1 over HTTPS (fal-client always builds https:// URLs),
following the documented protocol, with a self-signed certificate made at test time.

    POST {queue}/{app}                          -> {request_id, status_url, response_url, cancel_url}
    GET  {queue}/{owner}/{alias}/requests/{id}/status?logs=1
                                                -> IN_QUEUE (queue_position) | IN_PROGRESS (logs) | COMPLETED
    GET  {queue}/{owner}/{alias}/requests/{id}  -> the app's result, e.g. {"video": {"url": …}}
    PUT  {queue}/{owner}/{alias}/requests/{id}/cancel
Errors are `{detail, error_type}`; a content-checker refusal is a 422 whose detail items
have type "content_policy_violation".

A submit body is the app's input, checked against the app's published input schema where this fake
holds one (`INPUT_SCHEMAS`, transcribed from the app pages: types, ranges, enums, required fields). fal
apps validate with pydantic behind FastAPI, so a bad input is a 422 whose `detail` lists
`{loc: ["body", field], msg, type}` items; fields an app does not declare are ignored, as FastAPI does.
"""

from __future__ import annotations

import datetime
import ipaddress
import itertools
import re
import ssl
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema

from tests.fakes.media_host import FakeHTTP, FakeService, Recorded, frame_size, make_mp4

KEY = "fal-fake-key-id:fal-fake-secret"
MODERATION_DETAIL = [{"loc": ["body", "prompt"], "type": "content_policy_violation", "ctx": {},
                      "msg": "The content could not be processed because it contained material flagged by a content checker."}]
INPUT_SCHEMAS: dict[str, dict[str, Any]] = {
    "fal-ai/wan/v2.2-a14b/text-to-video": {
        "type": "object", "required": ["prompt"],
        "properties": {
            "prompt": {"type": "string", "minLength": 1}, "negative_prompt": {"type": "string"},
            "num_frames": {"type": "integer", "minimum": 17, "maximum": 161},
            "frames_per_second": {"type": "integer", "minimum": 4, "maximum": 60},
            "seed": {"type": "integer"}, "resolution": {"enum": ["480p", "580p", "720p"]},
            "aspect_ratio": {"enum": ["auto", "16:9", "9:16", "1:1"]},
            "num_inference_steps": {"type": "integer", "minimum": 2, "maximum": 40},
            "enable_safety_checker": {"type": "boolean"}, "enable_prompt_expansion": {"type": "boolean"},
            "guidance_scale": {"type": "number", "minimum": 1, "maximum": 10},
            "shift": {"type": "number", "minimum": 1, "maximum": 10}}},
}


def input_problems(app: str, body: Any) -> list[dict[str, Any]]:
    """FastAPI-style detail items for what the app would refuse in this input."""
    if not isinstance(body, dict):
        return [{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}]
    schema = INPUT_SCHEMAS.get(app)
    if schema is None:
        return []
    return [{"loc": ["body", *e.absolute_path] if e.absolute_path else ["body"], "msg": e.message,
             "type": f"{e.validator}_error"}
            for e in sorted(jsonschema.Draft202012Validator(schema).iter_errors(body), key=str)]


_REQ = re.compile(r"^/([^/]+)/([^/]+)/requests/([^/]+)(/status|/cancel)?$")


def make_self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A CA-flagged self-signed certificate for 127.0.0.1/localhost: (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reelwright fake fal")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "fake-fal-cert.pem", folder / "fake-fal-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class FakeFal(FakeService):
    """Scenario knobs: `submit_errors` (queue of (status, detail, error_type, headers) for the
    next submits), `outcome` ('ok' | 'moderated' | 'failed' | 'never'), `polls_to_finish`,
    `default_fps`, and `downloads` on the media host. `host` is what FAL_QUEUE_RUN_HOST takes."""

    folder: Path
    cert: tuple[Path, Path]
    key: str = KEY
    polls_to_finish: int = 3
    outcome: str = "ok"
    default_fps: int = 24
    submit_errors: deque = field(default_factory=deque)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = FakeHTTP(guard=self._denied)
        handler = self.http.httpd.RequestHandlerClass
        handler.do_PUT = lambda h: h._serve("PUT")  # the shared host speaks GET/POST/DELETE only
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert[0]), str(self.cert[1]))
        # No client has the address yet, so swapping in the TLS socket here races with nothing.
        self.http.httpd.socket = context.wrap_socket(self.http.httpd.socket, server_side=True)
        self._ids = itertools.count(1)
        self.http.route("GET", lambda p: bool(_REQ.match(p)), self._get)
        self.http.route("PUT", lambda p: bool(_REQ.match(p)), self._cancel)
        self.http.route("POST", lambda p: "/requests/" not in p, self._submit)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.http.httpd.server_port}"

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def _denied(self, req: Recorded) -> tuple[int, dict, Any] | None:
        if req.headers.get("authorization") != f"Key {self.key}":
            return 401, {}, {"detail": "Invalid authorization header: no valid key", "error_type": "unauthorized"}
        return None

    def _submit(self, req: Recorded) -> tuple[int, dict, Any]:
        if self.submit_errors:
            status, detail, error_type, headers = self.submit_errors.popleft()
            return status, headers, {"detail": detail, "error_type": error_type}
        app = urlsplit(req.path).path.strip("/")
        issues = input_problems(app, req.body)
        if issues:
            return 422, {}, {"detail": issues}
        owner, alias = app.split("/")[:2]
        rid = f"req-{next(self._ids):04d}"
        base = f"{self.url}/{owner}/{alias}/requests/{rid}"
        self.jobs[rid] = {"app": app, "input": req.body, "polls": 0, "outcome": self.outcome, "canceled": False}
        return 200, {}, {"request_id": rid, "response_url": base, "status_url": f"{base}/status",
                         "cancel_url": f"{base}/cancel", "queue_position": 0}

    def _get(self, req: Recorded) -> tuple[int, dict, Any]:
        parts = urlsplit(req.path)
        *_, rid, tail = _REQ.match(parts.path).groups()
        job = self.jobs.get(rid)
        if job is None:
            return 404, {}, {"detail": "Request not found", "error_type": "not_found"}
        if tail == "/status":
            return 200, {}, self._status(job, with_logs=parse_qs(parts.query).get("logs") in (["1"], ["true"], ["True"]))
        return self._result(job)

    def _status(self, job: dict[str, Any], with_logs: bool) -> dict[str, Any]:
        job["polls"] += 1
        logs = [{"message": f"step {job['polls']}", "level": "INFO", "source": "user",
                 "timestamp": "2026-11-01T00:00:00Z"}] if with_logs else None
        if job["canceled"]:
            return {"status": "COMPLETED", "logs": logs, "metrics": {}}
        if job["outcome"] == "never" or job["polls"] < self.polls_to_finish:
            if job["polls"] == 1:
                return {"status": "IN_QUEUE", "queue_position": 2, "response_url": ""}
            return {"status": "IN_PROGRESS", "logs": logs, "response_url": ""}
        return {"status": "COMPLETED", "logs": logs, "metrics": {"inference_time": 12.5}}

    def _result(self, job: dict[str, Any]) -> tuple[int, dict, Any]:
        if job["canceled"]:
            return 400, {}, {"detail": "Request was cancelled", "error_type": "request_cancelled"}
        if job["outcome"] == "moderated":
            return 422, {}, {"detail": MODERATION_DETAIL}
        if job["outcome"] == "failed":
            return 422, {}, {"detail": "Failed to generate video: the model ran out of memory",
                             "error_type": "generation_failed"}
        seconds, fps = self.clip_shape(job["input"] or {})
        inputs = job["input"] or {}
        resolution = inputs.get("resolution") if inputs.get("resolution") in ("480p", "580p", "720p", "768p") else "480p"
        aspect = inputs.get("aspect_ratio") if inputs.get("aspect_ratio") in ("16:9", "9:16", "1:1") else "16:9"
        path = make_mp4(self.folder, seconds, fps=fps, size=frame_size(aspect, resolution, wan="/wan/" in job["app"]))
        name = f"{job['app'].replace('/', '_')}_{len(self.http.files)}.mp4"
        self.http.files[name] = path
        return 200, {}, {"video": {"url": f"{self.url}/files/{name}", "content_type": "video/mp4",
                                   "file_name": name, "file_size": path.stat().st_size}, "seed": 42}

    def _cancel(self, req: Recorded) -> tuple[int, dict, Any]:
        rid = _REQ.match(urlsplit(req.path).path).group(3)
        if rid not in self.jobs:
            return 404, {}, {"detail": "Request not found", "error_type": "not_found"}
        self.jobs[rid]["canceled"] = True
        return 202, {}, {"status": "CANCELLATION_REQUESTED"}

    def clip_shape(self, inputs: dict[str, Any]) -> tuple[float, int]:
        fps = int(inputs.get("frames_per_second") or inputs.get("frame_rate") or self.default_fps)
        if inputs.get("num_frames"):
            return int(inputs["num_frames"]) / fps, fps
        return float(str(inputs.get("duration") or 5).rstrip("s")), fps

"""Provenance of a delivered video: a signed C2PA manifest saying it was made by reelwright, from which
models, with which edits and marks (`manifest.py` says what, `c2pa_io.py` signs and verifies)."""

from .c2pa_io import ProvenanceReport, SigningIdentity, read_provenance, sign_video
from .manifest import ProvenanceFacts, facts_for_file_edit, facts_from_run, manifest_json

__all__ = ["ProvenanceFacts", "ProvenanceReport", "SigningIdentity", "facts_for_file_edit", "facts_from_run",
           "manifest_json", "read_provenance", "sign_video"]

#!/usr/bin/env python3
"""Check an ODR case record bundle offline. Needs only Python 3.8+ and its standard library.

    python3 verify.py                  # the unpacked folder this file is in
    python3 verify.py FOLDER           # an unpacked bundle
    python3 verify.py BUNDLE.zip       # the zip as downloaded
    python3 verify.py --key KEY BUNDLE.zip   # and insist on the platform's public key KEY (base64)
    python3 verify.py --help

Checks, in this order, and stops at the first thing that does not hold:
  1. events.jsonl is a complete hash chain: sequence numbers 1..N, each event's prev_hash is the hash of
     the one before (the first's is 64 zeros), each payload hashes to its payload_hash (a payload may be
     null only where a later party_data_erased event lists it), and each hash is
     SHA-256(prev_hash + canonical event);
  2. case.json names the same case and the chain's head (count and last hash);
  3. every evidence file the log recorded is present and hashes to what the log recorded, unless the
     log also records that it was erased; every award document (PDF) the log recorded is present and
     hashes to the SHA-256 on its issue_award or award_corrected event;
  4. MANIFEST.sha256 lists every file of the bundle and each file's SHA-256 matches it;
  5. MANIFEST.sig is the platform's Ed25519 signature of MANIFEST.sha256 (so of every file). Checking it
     needs the "cryptography" package (pip install cryptography); without it the signature is reported
     as not checked. The signature proves the bundle came from whoever holds the key it names: compare
     that public key with the platform's list (GET /api/v1/signing-keys/), or pass it with --key.
Compare the chain head printed with the one on the case page (or one you noted earlier): a record that
was rewritten from the start would verify on its own, but not end in the same head.
Prints "OK ..." and exits 0, or "FAIL: ..." naming the first mismatch and exits 1 (2 for bad usage).

Canonical form: JSON with sorted keys, no spaces, UTF-8 (not ASCII-escaped). The chained fields are
{"case", "seq", "type", "actor", "actor_role", "at", "payload_hash"}.
"""

import argparse
import base64
import binascii
import hashlib
import json
import os
import sys
import zipfile

GENESIS = "0" * 64
MANIFEST = "MANIFEST.sha256"
SIGNATURE = "MANIFEST.sig"


class Failure(Exception):
    pass


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Folder:
    def __init__(self, root):
        self.root = root

    def names(self):
        found = []
        for directory, _dirs, files in os.walk(self.root):
            for name in files:
                path = os.path.relpath(os.path.join(directory, name), self.root).replace(os.sep, "/")
                if "__pycache__" not in path.split("/"):
                    found.append(path)
        return found

    def read(self, name):
        with open(os.path.join(self.root, *name.split("/")), "rb") as f:
            return f.read()


class Zip:
    def __init__(self, path):
        self.zip = zipfile.ZipFile(path)
        names = self.zip.namelist()
        # A second entry of the same name would be read here (the last one wins) while an archive tool
        # may show the first: a bundle is refused rather than read two ways.
        if len(set(names)) != len(names):
            raise Failure("the zip holds two entries of the same name")
        if any(n.startswith("/") or ".." in n.split("/") for n in names):
            raise Failure("the zip holds an entry outside its folder")
        tops = {n.split("/", 1)[0] for n in self.zip.namelist()}
        # A bundle's files sit in one folder named after the case.
        self.prefix = tops.pop() + "/" if len(tops) == 1 and all("/" in n for n in self.zip.namelist()) else ""

    def names(self):
        return [n[len(self.prefix) :] for n in self.zip.namelist() if not n.endswith("/")]

    def read(self, name):
        return self.zip.read(self.prefix + name)


def check_manifest(bundle):
    names = set(bundle.names())
    if MANIFEST not in names:
        raise Failure(MANIFEST + " is missing")
    listed = {}
    for number, line in enumerate(bundle.read(MANIFEST).decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise Failure(f"{MANIFEST} line {number} is not '<sha256>  <path>'")
        listed[name] = digest
    for name in sorted(listed):
        if name not in names:
            raise Failure(f"{name}: listed in {MANIFEST} but missing")
        if sha256(bundle.read(name)) != listed[name]:
            raise Failure(f"{name}: SHA-256 does not match {MANIFEST}")
    for name in sorted(names - set(listed) - {MANIFEST, SIGNATURE}):
        raise Failure(f"{name}: not listed in {MANIFEST}")


def check_signature(bundle, pinned):
    """The platform's signature of the manifest (``pinned``: the raw public key it must be made with, or
    None): a sentence saying what was checked, or Failure."""
    if SIGNATURE not in set(bundle.names()):
        if pinned is not None:
            raise Failure(f"{SIGNATURE} is missing: the bundle is not signed")
        return "not signed (no " + SIGNATURE + ")"
    try:
        record = json.loads(bundle.read(SIGNATURE).decode("utf-8"))
        public = base64.b64decode(record["public_key"], validate=True)
        signature = base64.b64decode(record["signature"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise Failure(f"{SIGNATURE} is not a signature record") from None
    if record.get("algorithm") != "Ed25519" or record.get("signed") != MANIFEST:
        raise Failure(f"{SIGNATURE}: not an Ed25519 signature of {MANIFEST}")
    key = f"key {record.get('key_id')} (public key {record['public_key']})"
    if pinned is not None and public != pinned:
        raise Failure(f"{SIGNATURE}: signed with {key}, not with {base64.b64encode(pinned).decode()}")
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        if pinned is not None:
            raise Failure("--key needs the cryptography package to check the signature") from None
        return f"signature by {key} NOT checked (pip install cryptography, then run again)"
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, bundle.read(MANIFEST))
    except (InvalidSignature, ValueError):
        raise Failure(f"{SIGNATURE}: the signature by {key} does not verify") from None
    return f"signed by {key}" + ("; the key given" if pinned is not None else "; compare it with the platform's list")


def check_chain(bundle):
    events = []
    prev_hash = GENESIS
    # One event a line, split on "\n" alone: JSON text may hold U+2028 and other separators.
    lines = bundle.read("events.jsonl").decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        try:
            event = json.loads(line)
        except ValueError:
            raise Failure(f"events.jsonl line {number} is not JSON") from None
        where = f"events.jsonl line {number} (event {event.get('seq')}, {event.get('type')})"
        if event.get("seq") != number:
            raise Failure(f"{where}: expected sequence number {number}")
        if event.get("prev_hash") != prev_hash:
            raise Failure(f"{where}: prev_hash is not the previous event's hash")
        payload = event.get("payload")
        if payload is not None and sha256(canonical(payload)) != event.get("payload_hash"):
            raise Failure(f"{where}: the payload does not match its payload_hash")
        body = {k: event.get(k) for k in ("case", "seq", "type", "actor", "actor_role", "at", "payload_hash")}
        if sha256(prev_hash.encode("ascii") + canonical(body)) != event.get("hash"):
            raise Failure(f"{where}: the hash does not match the event")
        prev_hash = event["hash"]
        events.append(event)
    if not events:
        raise Failure("events.jsonl holds no events")
    erased = set()
    for event in events:
        if event["type"] == "party_data_erased" and event.get("payload"):
            erased.update(event["payload"].get("events", []))
    for number, event in enumerate(events, start=1):
        if event.get("payload") is None and event["seq"] not in erased:
            raise Failure(
                f"events.jsonl line {number} (event {event['seq']}, {event['type']}): the payload is missing "
                "and no erasure records it"
            )
    return events


def check_case(bundle, events):
    try:
        case = json.loads(bundle.read("case.json").decode("utf-8"))
    except (KeyError, ValueError, OSError):
        raise Failure("case.json is missing or not JSON") from None
    chain = case.get("chain") or {}
    if case.get("reference") != events[0]["case"] or any(e["case"] != case.get("reference") for e in events):
        raise Failure("case.json: the reference is not the events' case")
    if chain.get("event_count") != len(events) or chain.get("event_head") != events[-1]["hash"]:
        raise Failure(
            f"case.json: the case records {chain.get('event_count')} events ending in {chain.get('event_head')}; "
            f"events.jsonl has {len(events)} ending in {events[-1]['hash']}"
        )
    return case


def check_evidence(bundle, events, case):
    paths = {item.get("id"): item.get("path") for item in case.get("evidence", [])}
    erased = set()
    for event in events:
        if event["type"] in ("evidence_erased", "party_data_erased") and event.get("payload"):
            erased.update(event["payload"].get("evidence", []))
    names = set(bundle.names())
    count = 0
    for event in events:
        payload = event.get("payload")
        if event["type"] != "evidence_added" or payload is None:
            continue
        evidence_id = payload["evidence"]
        if evidence_id in erased:
            continue
        path = paths.get(evidence_id)
        if not path or path not in names:
            raise Failure(f"evidence {evidence_id} (event {event['seq']}) is missing from the bundle")
        if sha256(bundle.read(path)) != payload["sha256"]:
            raise Failure(f"{path}: SHA-256 differs from the event log (event {event['seq']})")
        count += 1
    return count


def check_awards(bundle, events, case):
    """Every award document the log recorded (issue_award, award_corrected) is in the bundle and hashes
    to what the log recorded."""
    paths = {(d.get("number"), d.get("language")): d.get("path") for d in case.get("award_documents", [])}
    names = set(bundle.names())
    count = 0
    for event in events:
        payload = event.get("payload")
        if event["type"] not in ("issue_award", "award_corrected") or not payload or "award" not in payload:
            continue
        award = payload["award"]
        for document in award.get("documents", []):
            path = paths.get((award.get("number"), document["language"]))
            if not path or path not in names:
                raise Failure(f"award {award.get('number')} ({document['language']}) is missing from the bundle")
            if sha256(bundle.read(path)) != document["sha256"]:
                raise Failure(f"{path}: SHA-256 differs from the event log (event {event['seq']})")
            count += 1
    return count


def public_key(text):
    """``--key``: the base64 of a raw 32-byte Ed25519 public key."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise argparse.ArgumentTypeError("not the base64 of a 32-byte Ed25519 public key")
    return raw


def main(argv):
    parser = argparse.ArgumentParser(prog="verify.py", description="Check an ODR case record bundle offline.")
    parser.add_argument(
        "--key", type=public_key, help="the platform's public key (base64) the bundle must be signed by"
    )
    parser.add_argument("target", nargs="?", help="an unpacked bundle's folder or the zip (default: this folder)")
    try:
        args = parser.parse_args(argv[1:])
    except SystemExit as exit_:  # bad usage: argparse has printed why
        return 2 if exit_.code else 0
    pinned = args.key
    target = args.target if args.target is not None else os.path.dirname(os.path.abspath(__file__))
    try:
        bundle = Zip(target) if os.path.isfile(target) else Folder(target)
    except (OSError, zipfile.BadZipFile) as exc:
        print(f"FAIL: cannot open {target}: {exc}")
        return 1
    except Failure as failure:
        print(f"FAIL: {failure}")
        return 1
    try:
        events = check_chain(bundle)
        case = check_case(bundle, events)
        files = check_evidence(bundle, events, case)
        awards = check_awards(bundle, events, case)
        check_manifest(bundle)
        signed = check_signature(bundle, pinned)
    except Failure as failure:
        print(f"FAIL: {failure}")
        return 1
    except (KeyError, OSError) as exc:
        print(f"FAIL: {exc} is missing")
        return 1
    print(
        f"OK {case['reference']}: {len(events)} events, chain head {events[-1]['hash']}, "
        f"{files} evidence files match the log, {awards} award documents match the log; {signed}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

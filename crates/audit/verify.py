#!/usr/bin/env python3
"""Check a csp audit proof without csp: a signed checkpoint and an inclusion proof of one
record, or a consistency proof between two checkpoints. It shares no code with csp: RFC 6962
hashing with hashlib, RFC 9162's verification algorithms, Ed25519 from the `cryptography`
package (Debian: python3-cryptography).

The public key is pinned: given on the command line (base64 of its 32 bytes), never read from
the proof or the checkpoint.

    verify.py inclusion   --name csp-audit/prod --public-key KEY PROOF.json
    verify.py consistency --name csp-audit/prod --public-key KEY PROOF.json

PROOF.json for `inclusion`: {"checkpoint": "<text>", "index": N, "leaf": "<base64 of the
record's published bytes>", "path": ["<base64 hash>", ...]}; for `consistency`:
{"old": "<checkpoint text>", "new": "<checkpoint text>", "proof": ["<base64 hash>", ...]}.
Exit status 0 when the proof holds, 1 (and the reason on stderr) when it does not.
"""

import argparse
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Refused(Exception):
    pass


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def checkpoint(text, name, public_key):
    """The (size, root) a checkpoint states, if the pinned key signed it."""
    body, sep, signatures = text.partition("\n\n")
    if not sep:
        raise Refused("not a checkpoint: no blank line before the signatures")
    body += "\n"
    lines = body.split("\n")
    if len(lines) < 4:
        raise Refused("not a checkpoint: too few lines")
    size = int(lines[1])
    root = base64.b64decode(lines[2], validate=True)
    raw = public_key.public_bytes_raw()
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4]
    for line in signatures.split("\n"):
        if not line.startswith("\u2014 "):
            continue
        signer, _, blob = line[2:].partition(" ")
        blob = base64.b64decode(blob)
        if signer != name or len(blob) != 68 or blob[:4] != key_id:
            continue
        try:
            public_key.verify(blob[4:], body.encode())
        except InvalidSignature:
            raise Refused("the checkpoint's signature does not verify")
        return size, root
    raise Refused("the checkpoint is not signed by the pinned key")


def verify_inclusion(index, size, leaf, path, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old, new, old_root, new_root, proof):
    if old > new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    nodes = ([old_root] if old & (old - 1) == 0 else []) + list(proof)
    if not nodes:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=["inclusion", "consistency"])
    parser.add_argument("--name", required=True, help="the log's name, e.g. csp-audit/prod")
    parser.add_argument("--public-key", required=True, help="base64 of the pinned Ed25519 key")
    parser.add_argument("proof", help="the proof, JSON")
    args = parser.parse_args()
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(args.public_key))
    with open(args.proof) as f:
        proof = json.load(f)
    b64 = [base64.b64decode(h) for h in proof.get("path", proof.get("proof", []))]
    try:
        if args.kind == "inclusion":
            size, root = checkpoint(proof["checkpoint"], args.name, key)
            leaf = leaf_hash(base64.b64decode(proof["leaf"]))
            if not verify_inclusion(proof["index"], size, leaf, b64, root):
                raise Refused("the record is not at that index in the checkpointed tree")
            print(f"record {proof['index']} is in the log of {size} records signed by {args.name}")
        else:
            old, old_root = checkpoint(proof["old"], args.name, key)
            new, new_root = checkpoint(proof["new"], args.name, key)
            if not verify_consistency(old, new, old_root, new_root, b64):
                raise Refused(f"the log of {new} records does not extend the log of {old}")
            print(f"the log of {new} records extends the log of {old}, both signed by {args.name}")
    except Refused as e:
        print(f"refused: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

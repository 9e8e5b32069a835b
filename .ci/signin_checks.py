"""What the two sign-in steps of CI share (.ci/signin_browser.py and
.ci/mcp_oauth_client.py): counting checks, PKCE, and reading what the
sandbox recorded (its audit trail and its sign-in grants) with the
jira-action binary, the way an operator would.
"""

import base64
import hashlib
import json
import secrets
import subprocess
import sys


class Checks:
    """Counts checks; a failed one is printed at once and fails the run."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok: {name}")
        else:
            self.failed += 1
            print(f"FAIL: {name}: {detail}")
        return ok

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def pkce():
    """An RFC 7636 S256 pair: (code_verifier, code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


class Sandbox:
    """The sandbox's records, read from its store with the CLI."""

    def __init__(self, binary, store):
        self.binary = binary
        self.store = store

    def _run(self, *args):
        done = subprocess.run([self.binary, *args, "--store-url", self.store],
                              capture_output=True, text=True, check=True)
        return done.stdout

    def audit(self, caller):
        """The audit records of one caller (their email), oldest first."""
        return json.loads(self._run("audit", "--format", "json", "--caller", caller))

    def grants(self):
        """The live sign-in grants' lines (`jira-action mcp grants`)."""
        return self._run("mcp", "grants").splitlines()

    def check_filed_by(self, checks, key, email, account_id, client_id):
        """The newest audit record of the signed-in person is the call
        that filed `key`, through the OAuth client `client_id`, with
        them as reporter."""
        records = self.audit(email)
        record = records[-1] if records else {}
        if checks.check(f"{key} is in the audit trail under {email}",
                        record.get("issue_key") == key, records):
            checks.check(f"{key}: reporter is the person picked ({account_id})",
                         record.get("reporter") == account_id, record)
            checks.check(f"{key}: signed in through client {client_id}",
                         record.get("signature") == "oauth" and record.get("client") == client_id,
                         record)

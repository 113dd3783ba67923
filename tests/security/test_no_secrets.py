"""No secrets in the repository: every tracked or new (not ignored) text file is scanned for credentials."""

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Built from pieces so this file does not match itself.
PATTERNS = {
    "AWS access key id": re.compile(r"\b(?:AK" + r"IA|AS" + r"IA)[A-Z0-9]{16}\b"),
    "AWS secret access key": re.compile(
        r"(?i)aws_?secret_?access_?key\W{0,5}[=:]\W{0,5}['\"]?(?!testing\b)[A-Za-z0-9/+]{40}\b"
    ),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIV" + r"ATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
    "API Gateway key value": re.compile(r"(?i)x-api-key\W{0,5}[=:]\W{0,5}['\"]?[A-Za-z0-9]{30,}"),
}


def repo_files() -> list[Path]:
    try:
        listing = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [REPO / line for line in listing.splitlines() if (REPO / line).is_file()]


def test_no_secrets_in_the_repository() -> None:
    files = repo_files()
    assert files
    found = []
    for path in files:
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary (images, models)
        text = data.decode("utf-8", errors="replace")
        found += [f"{path.relative_to(REPO)}: {name}" for name, pattern in PATTERNS.items() if pattern.search(text)]
    assert not found, found


@pytest.mark.parametrize(
    "leak",
    [
        "aws_access_key_id = " + "AK" + "IA2E0A8F3B244C9986",
        "AWS_SECRET_ACCESS_KEY=" + "Gr6pR9kTz1bQ+0mLwX3v" + "N8yJ4sD7fH2cE5aU6iOq",
        "-----BEGIN RSA PRIV" + "ATE KEY-----",
        "token: gh" + "p_" + "a" * 36,
    ],
)
def test_the_patterns_catch_leaks(leak: str) -> None:
    assert any(pattern.search(leak) for pattern in PATTERNS.values())

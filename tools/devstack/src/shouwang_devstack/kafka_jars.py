"""Kafka's jars from Maven Central, and the Java that runs them.

`deploy/local/pom.xml` names the broker and a log4j2 backend; `ensure_kafka_jars` has Maven
copy them into `<repo>/.cache/kafka/libs` once (again when the pom changes), and `find_java`
finds the `java` that runs them (JAVA_HOME first).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from ._proc import DevstackError, repo_root

# The broker's own jar; its presence tells us the copy finished.
_MARKER_JAR_PREFIX = "kafka_2.13-"


def kafka_libs_dir(root: Path | None = None) -> Path:
    """Where the broker's jars live: `<repo>/.cache/kafka/libs`."""
    return (root or repo_root()) / ".cache" / "kafka" / "libs"


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def _libs_complete(libs: Path, pom: Path) -> bool:
    """The jars are there and were resolved from this very pom: a pinned version bumped (or a
    dependency added) since the last resolve means resolving again, not running stale jars."""
    marker = libs / ".complete"
    return (
        marker.is_file()
        and marker.read_text(encoding="utf-8").strip() == _pom_digest(pom)
        and any(libs.glob(f"{_MARKER_JAR_PREFIX}*.jar"))
    )


def find_java() -> str:
    """Path of `java` (JAVA_HOME first), or a clear error."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise DevstackError(
            "java not found: Kafka 4.x needs Java 17+ "
            "(Debian: `apt-get install -y openjdk-17-jre-headless`), or set KAFKA_BOOTSTRAP_SERVERS "
            "to a broker that already runs"
        )
    return found


def ensure_kafka_jars(root: Path | None = None, *, quiet: bool = True) -> Path:
    """Make sure Kafka's jars are in `<repo>/.cache/kafka/libs`, running Maven once if needed.

    Idempotent and safe to call from several processes at once (a file lock serialises the copy,
    and a `.complete` marker, holding the pom's SHA-256, is written only after Maven succeeded).
    """
    root = root or repo_root()
    libs = kafka_libs_dir(root)
    pom = root / "deploy" / "local" / "pom.xml"
    if not pom.is_file():
        raise DevstackError(f"{pom} is missing: it names the Kafka jars to resolve")
    if _libs_complete(libs, pom):
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    with (libs.parent / ".resolve.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _libs_complete(libs, pom):
            return libs
        mvn = shutil.which("mvn")
        if not mvn:
            raise DevstackError(
                "mvn not found: Maven resolves Kafka's broker jars from Maven Central "
                "(Debian: `apt-get install -y maven`)"
            )
        find_java()
        if libs.exists():
            shutil.rmtree(libs)
        argv = [mvn, "-B", "dependency:copy-dependencies", f"-DoutputDirectory={libs}"]
        if quiet:
            argv.insert(2, "-q")
        print(f"[devstack] resolving Kafka jars with Maven into {libs} (first run only) ...")
        result = subprocess.run(argv, cwd=pom.parent, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(libs.glob(f"{_MARKER_JAR_PREFIX}*.jar")):
            output = (result.stdout + result.stderr).strip().splitlines()[-30:]
            raise DevstackError(
                f"Maven could not resolve Kafka's jars (exit {result.returncode}):\n"
                + "\n".join(output)
            )
        (libs / ".complete").write_text(_pom_digest(pom) + "\n", encoding="utf-8")
    return libs

"""The locks the bundle is built from (packaging/locks, written by packaging/lock.sh): each
says which Python and platform it is for, pins every package exactly with its hashes, and
covers every runtime dependency of pyproject.toml and packaging/locks/bundle.in; build.sh
refuses a Python it has no lock for. Fast, so the plain test run has them; the proof that a
lock builds a working bundle is tests/packaging/test_frozen_bundle.py."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

tomllib = pytest.importorskip("tomllib")  # Python 3.11 on; the locks are for 3.11

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "packaging" / "locks"
LOCK_NAME = re.compile(r"bundle-py(?P<python>3\.\d+)-(?P<platform>linux-x86_64)\.txt")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def lock_files() -> list[Path]:
    return sorted(LOCKS.glob("bundle-*.txt"))


def entries(lock: Path) -> list[str]:
    """The lock's requirements, one string each, backslash continuations joined and comments
    dropped, as pip reads a requirements file."""
    text = re.sub(r"\\\n", " ", lock.read_text())
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def pins(lock: Path) -> dict[str, Version]:
    pinned = {}
    for entry in entries(lock):
        requirement = Requirement(entry.split(" --hash=", 1)[0])
        (specifier,) = requirement.specifier
        pinned[canonicalize_name(requirement.name)] = Version(specifier.version)
    return pinned


def target_environment(lock: Path) -> dict[str, str]:
    python = LOCK_NAME.fullmatch(lock.name)["python"]
    return {"python_version": python, "python_full_version": f"{python}.0",
            "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
            "platform_machine": "x86_64", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "extra": ""}


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bundle_in = [line.split("#", 1)[0].strip()
                 for line in (LOCKS / "bundle.in").read_text().splitlines()]
    return [Requirement(r) for r in [*project["dependencies"], *filter(None, bundle_in)]]


def test_there_is_a_lock_and_each_is_named_for_its_python_and_platform():
    assert lock_files(), "no lock in packaging/locks: run packaging/lock.sh"
    for lock in lock_files():
        assert LOCK_NAME.fullmatch(lock.name), lock.name


@pytest.mark.parametrize("lock", lock_files(), ids=lambda lock: lock.name)
def test_the_lock_says_in_its_header_which_python_and_platform_it_is_for(lock):
    named = LOCK_NAME.fullmatch(lock.name)
    first = lock.read_text().splitlines()[0]
    assert first.startswith(f"# The bundle's build environment: Python {named['python']}, "
                            f"{named['platform']}"), first


@pytest.mark.parametrize("lock", lock_files(), ids=lambda lock: lock.name)
def test_every_requirement_is_pinned_exactly_with_a_hash(lock):
    found = entries(lock)
    assert len(found) > 50  # torch alone brings dozens: an empty or cut lock fails here
    names = []
    for entry in found:
        requirement_text, _, hashes = entry.partition(" --hash=")
        requirement = Requirement(requirement_text)
        assert not requirement.url and not requirement.marker, entry
        assert [s.operator for s in requirement.specifier] == ["=="], entry
        assert "*" not in str(requirement.specifier), entry
        options = f"--hash={hashes}".split()
        assert options and all(HASH.fullmatch(option) for option in options), entry
        names.append(canonicalize_name(requirement.name))
    assert len(names) == len(set(names)), "a package pinned twice"


@pytest.mark.parametrize("lock", lock_files(), ids=lambda lock: lock.name)
def test_the_lock_covers_every_runtime_dependency_and_the_build_tools(lock):
    pinned = pins(lock)
    environment = target_environment(lock)
    wanted = [r for r in project_requirements()
              if r.marker is None or r.marker.evaluate(environment)]
    names = {canonicalize_name(r.name) for r in wanted}
    assert {"torch", "pyinstaller", "pyinstaller-hooks-contrib", "setuptools"} <= names
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in {lock.name}: run packaging/lock.sh"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{lock.name} pins {name}=={pinned[name]}, outside {requirement}: "
            "run packaging/lock.sh")


def test_pyproject_leaves_torch_unpinned_the_lock_pins_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (torch,) = [Requirement(d) for d in project["dependencies"]
                if canonicalize_name(Requirement(d).name) == "torch"]
    assert all(s.operator in (">=", ">", "!=") for s in torch.specifier), torch
    for lock in lock_files():
        assert "torch" in pins(lock)


def refused(python: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "packaging" / "build.sh"), "--no-archive"],
                          env={"PATH": "/usr/bin:/bin", "PYTHON": python},
                          capture_output=True, text=True, timeout=60)


def test_build_sh_refuses_a_python_it_has_no_lock_for_in_one_line(tmp_path):
    # A stand-in interpreter that answers build.sh's question as a Python 3.99 would.
    python = tmp_path / "python3.99"
    python.write_text("#!/bin/sh\necho py3.99-linux-x86_64\n")
    python.chmod(0o755)
    done = refused(str(python))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("build.sh: no lock for py3.99-linux-x86_64")
    for lock in lock_files():
        assert LOCK_NAME.fullmatch(lock.name)["python"] in done.stderr
    assert "packaging/lock.sh --python" in done.stderr


def test_build_sh_refuses_a_python_that_does_not_run_in_one_line(tmp_path):
    done = refused(str(tmp_path / "no-such-python"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "no-such-python" in done.stderr

"""The distribution as a packager and a new user get it: sdist -> wheel -> fresh venv.

`python -m build` makes the sdist and, from it, the wheel; the wheel goes into a new
venv (no system site-packages, no source tree on sys.path), with its dependencies, and
that venv's `ctsd` migrates a database, serves, and answers. The systemd files it
installs pass `systemd-analyze verify` and apply with systemd-sysusers/-tmpfiles.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import HOST, free_port, server_environment, terminate

pytestmark = pytest.mark.e2e

SOURCE_TREE = Path(__file__).resolve().parents[2]
SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"


def run(*command: str | Path, cwd: Path, timeout: float = 600,
        env: dict[str, str] | None = None) -> str:
    result = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True,
                            text=True, timeout=timeout, check=False,
                            env=env if env is not None else server_environment())
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # A copy without .venv, caches and databases: what a fresh clone would build.
    source = out / "source"
    shutil.copytree(SOURCE_TREE, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "*.egg-info", "build", "dist", "ctsd.sqlite*",
        ".pytest_cache", ".ruff_cache", ".mypy_cache", "bench"))
    run(sys.executable, "-m", "build", "--outdir", out, source, cwd=out)
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    [found] = dist.glob("ctsd-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(dist: Path, wheel: Path) -> Iterator[Path]:
    target = dist / "fresh-venv"
    run(sys.executable, "-m", "venv", target, cwd=dist)
    run(target / "bin" / "pip", "install", "--quiet", wheel, cwd=dist)
    yield target


def test_the_sdist_carries_licence_and_everything_the_wheel_needs(dist: Path) -> None:
    [sdist] = dist.glob("ctsd-*.tar.gz")
    names = subprocess.run(["tar", "-tzf", str(sdist)], capture_output=True, text=True,
                           check=True).stdout.split()
    root = sdist.name.removesuffix(".tar.gz")
    for path in ("LICENSE", "pyproject.toml", "setup.py", "README.md",
                 "config/ctsd.toml", "systemd/ctsd.service",
                 "systemd/sysusers.d/ctsd.conf", "systemd/tmpfiles.d/ctsd.conf",
                 "ctsd/db/migrations/env.py", "ctsd/api/static/swagger-initializer.js"):
        assert f"{root}/{path}" in names, path


def test_the_wheel_metadata_is_licensed_and_bounded(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [metadata] = [name for name in names if name.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    headers = [line for line in text.split("\n\n", 1)[0].splitlines()]
    assert "License-Expression: MIT" in headers
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    requires = [line.split(":", 1)[1].strip() for line in headers
                if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert any(line.startswith("jsonschema") for line in requires)
    assert any(line.startswith("gunicorn") for line in requires)
    # Bounded: a major-version ceiling, or an exact pin (the OpenTelemetry family).
    unbounded = [line for line in requires if "<" not in line and "==" not in line]
    assert not unbounded, unbounded
    assert "ctsd/db/migrations/versions/0001_initial_schema.py" in names
    assert not any(name.endswith("alembic.ini") for name in names)


def test_a_fresh_venv_upgrades_serves_and_answers(venv: Path, tmp_path: Path) -> None:
    ctsd = venv / "bin" / "ctsd"
    env = server_environment()
    env.pop("PYTHONPATH", None)
    # Runs from an empty directory: nothing can come from the source tree.
    where = run(venv / "bin" / "python", "-c",
                "import ctsd, handlers, schemas; print(ctsd.__file__, handlers.__file__, "
                "schemas.__file__)", cwd=tmp_path, env=env)
    assert str(SOURCE_TREE) not in where and where.count(str(venv)) == 3, where
    run(ctsd, "db", "upgrade", cwd=tmp_path, env=env)
    assert (tmp_path / "ctsd.sqlite").exists()
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen([str(ctsd), "serve", "--host", HOST, "--port", str(port),
                                   "--workers", "2"], cwd=tmp_path, env=env,
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        about = _wait_for_json(server, f"http://{HOST}:{port}/api/1/about/", log)
        assert about["version"] == _version_of(venv)
        with urllib.request.urlopen(f"http://{HOST}:{port}/static/cts/"  # 127.0.0.1
                                    "swagger-initializer.js", timeout=5) as answer:
            assert answer.status == 200
    finally:
        assert terminate(server) == 0, log.read_text()
    assert run(venv / "bin" / "cts", "--version", cwd=tmp_path, env=env).strip() == (
        f"cts {about['version']}")


def _version_of(venv: Path) -> str:
    return subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import importlib.metadata as m; print(m.version('ctsd'))"],
                          capture_output=True, text=True, check=True).stdout.strip()


def _wait_for_json(server: subprocess.Popen[bytes], url: str, log: Path,
                   timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:  # only 127.0.0.1
                return json.load(answer)
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer:\n{log.read_text()}")


@pytest.mark.skipif(not os.access(SYSTEMD_ANALYZE, os.X_OK) and os.environ.get("CI") != "true",
                    reason="systemd-analyze is not installed")
def test_the_installed_units_verify_with_the_installed_ctsd(venv: Path, tmp_path: Path) -> None:
    # The wheel installs the units below its prefix (/usr for a distribution package,
    # here the venv): they must name the ctsd and the documentation of that prefix.
    units = venv / "lib" / "systemd" / "system"
    copies = []
    for name in ("ctsd.service", "ctsd-consumer.service"):
        text = (units / name).read_text()
        assert "ExecStart=/usr/bin/ctsd " in text
        for document in _documentation(text):
            assert (venv / document.removeprefix("file:///usr/")).is_file(), document
        copies.append(tmp_path / name)
        copies[-1].write_text(text.replace("/usr/bin/ctsd", str(venv / "bin" / "ctsd")))
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", *map(str, copies)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def _documentation(unit: str) -> list[str]:
    lines = [line for line in unit.splitlines() if line.startswith("Documentation=")]
    return [word for line in lines for word in line.split("=", 1)[1].split()]


def test_the_installed_sysusers_and_tmpfiles_make_the_unit_user(venv: Path,
                                                                tmp_path: Path) -> None:
    sysusers, tmpfiles = shutil.which("systemd-sysusers"), shutil.which("systemd-tmpfiles")
    if not (sysusers and tmpfiles):
        pytest.skip("systemd-sysusers/-tmpfiles are not installed")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    run(sysusers, f"--root={root}", venv / "lib" / "sysusers.d" / "ctsd.conf", cwd=tmp_path)
    [entry] = [line for line in (root / "etc" / "passwd").read_text().splitlines()
               if line.startswith("ctsd:")]
    uid = int(entry.split(":")[2])
    run(tmpfiles, f"--root={root}", "--create", venv / "lib" / "tmpfiles.d" / "ctsd.conf",
        cwd=tmp_path)
    assert (root / "var" / "lib" / "ctsd").stat().st_uid == uid
    assert (root / "etc" / "ctsd").stat().st_mode & 0o777 == 0o750


def test_another_distribution_owning_handlers_stops_ctsd(venv: Path, wheel: Path,
                                                        tmp_path: Path) -> None:
    # Last in this module: it overwrites the venv's handlers/__init__.py, as pip would.
    project = tmp_path / "other"
    (project / "handlers").mkdir(parents=True)
    (project / "handlers" / "__init__.py").write_text("")
    (project / "setup.py").write_text(
        "from setuptools import setup\nsetup(name='other-handlers', version='1', "
        "packages=['handlers'])\n")
    run(sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path, project, cwd=tmp_path)
    [other] = tmp_path.glob("other_handlers-*.whl")
    pip = venv / "bin" / "pip"
    run(pip, "install", "--quiet", "--no-deps", other, cwd=tmp_path)
    overwritten = ctsd_fails(venv, tmp_path)
    assert "ctsd: handlers/__init__.py was overwritten by another distribution" in overwritten

    # ctsd installed again over it: its files are intact, but the name is still shared.
    run(pip, "install", "--quiet", "--no-deps", "--force-reinstall", wheel, cwd=tmp_path)
    shared = ctsd_fails(venv, tmp_path)
    assert shared.strip() == ("ctsd: the distribution 'other-handlers' also installs a "
                              "top-level package 'handlers' (README: Packaging)")


def ctsd_fails(venv: Path, cwd: Path) -> str:
    result = subprocess.run([str(venv / "bin" / "ctsd"), "db", "upgrade"], cwd=cwd,
                            capture_output=True, text=True, timeout=60, check=False,
                            env=server_environment())
    assert result.returncode != 0, result.stderr
    assert not (cwd / "ctsd.sqlite").exists()
    return result.stderr


def test_make_run_installs_only_serving_and_says_what_it_uses(tmp_path: Path) -> None:
    venv, port = tmp_path / "venv", free_port()
    database = tmp_path / "run.sqlite"
    env = server_environment(CTSD_DATABASE_URL=f"sqlite:///{database}")
    log = tmp_path / "make.log"
    with log.open("wb") as out:
        make = subprocess.Popen(["make", "-C", str(SOURCE_TREE), "run", f"PORT={port}",
                                 f"VENV={venv}", f"PYTHON={sys.executable}"],
                                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True)
    try:
        about = _wait_for_json(make, f"http://{HOST}:{port}/api/1/about/", log, 300)
        assert about["auth_backend"] == "noauth"
    finally:
        os.killpg(make.pid, 15)
        make.wait(30)
    said = log.read_text()
    assert "installing ctsd and its runtime dependencies" in said
    assert f"database: SQLite file {database}" in said
    assert "config: none found" in said
    assert f"serving http://127.0.0.1:{port}/" in said
    installed = run(venv / "bin" / "pip", "list", "--format=freeze", cwd=tmp_path)
    assert "gunicorn==" in installed and "aiohttp==" in installed
    for test_tool in ("pytest", "ruff", "openapi-spec-validator", "build"):
        assert f"{test_tool}==" not in installed.lower()

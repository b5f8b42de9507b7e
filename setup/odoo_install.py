"""Install Odoo 19.0 Community from a source the user gives, into a Python interpreter.

Odoo is not on PyPI. Given a 19.0 Community source folder, a tarball of one
(the official nightly ``odoo_19.0.latest.tar.gz``) or a bare git directory
(branch 19.0), this installs Odoo's requirements and Odoo itself (editable)
into the interpreter, with the pins and flags that work on Debian 12 with
Python 3.11:

- Odoo pins ``cbor2==5.4.2`` for Python < 3.12, which does not build there:
  5.6.2 is installed instead;
- several pinned packages build only with ``setuptools<81`` and
  ``pip install --no-build-isolation``;
- python-ldap and psycopg2 build against Debian's ``libldap2-dev``,
  ``libsasl2-dev`` and ``libpq-dev`` (installed with apt-get when root).
"""

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ODOO_SERIES = "19.0"
SOURCES_HELP = (
    "Pass the Odoo 19.0 Community source with --odoo PATH (or the environment variable "
    "ODOO_SOURCE): a source folder, a tarball or a bare git directory. The official sources "
    "are published on GitHub (https://github.com/odoo/odoo, branch 19.0) and as nightly "
    "tarballs (https://nightly.odoo.com/19.0/nightly/src/odoo_19.0.latest.tar.gz)."
)
BUILD_PACKAGES = ["libldap2-dev", "libsasl2-dev", "libpq-dev"]
REQUIREMENT_FIXES = {"cbor2==5.4.2": "cbor2==5.6.2"}


class OdooSourceError(Exception):
    """The given Odoo source cannot be used; the message says why."""


def _say(msg):
    print(f"[rebilling] {msg}", flush=True)


def _run(cmd, **kw):
    _say("$ " + " ".join(str(c) for c in cmd))
    return subprocess.run(cmd, check=True, **kw)


def _is_source_folder(path):
    return (path / "odoo" / "release.py").is_file() and (path / "requirements.txt").is_file()


def _series(folder):
    text = (folder / "odoo" / "release.py").read_text()
    match = re.search(r"version_info\s*=\s*\(\s*(?:'saas~)?(\d+)['\"]?\s*,\s*(\d+)", text)
    return f"{match.group(1)}.{match.group(2)}" if match else "unknown"


def _find_source(root):
    if _is_source_folder(root):
        return root
    for child in sorted(root.iterdir()):
        if child.is_dir() and _is_source_folder(child):
            return child
    return None


def source_folder(source, workdir):
    """The Odoo source folder of ``source`` (unpacked into ``workdir`` when needed)."""
    path = Path(source).expanduser().resolve()
    if not path.exists():
        raise OdooSourceError(f"{path} does not exist. {SOURCES_HELP}")
    if path.is_dir() and _is_source_folder(path):
        folder = path
    else:
        target = Path(workdir) / "odoo-source"
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        if path.is_dir() and (path / "HEAD").is_file() and (path / "objects").is_dir():
            _say(f"unpacking the HEAD of the git directory {path}")
            archive = subprocess.run(
                ["git", f"--git-dir={path}", "archive", "--format=tar", "HEAD"],
                check=True,
                capture_output=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        elif path.is_file() and tarfile.is_tarfile(path):
            _say(f"unpacking {path}")
            with tarfile.open(path) as archive:
                archive.extractall(target, filter="data")
        else:
            raise OdooSourceError(
                f"{path} is neither an Odoo source folder (odoo/release.py and "
                f"requirements.txt), a tarball, nor a bare git directory. {SOURCES_HELP}"
            )
        folder = _find_source(target)
        if folder is None:
            raise OdooSourceError(f"{path} holds no Odoo source tree. {SOURCES_HELP}")
    series = _series(folder)
    if series != ODOO_SERIES:
        raise OdooSourceError(
            f"{path} is Odoo {series}; these addons need Odoo {ODOO_SERIES} Community."
        )
    return folder


def _missing_debian_packages():
    if not shutil.which("dpkg-query"):
        return []
    missing = []
    for package in BUILD_PACKAGES:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package],
            capture_output=True,
            text=True,
            check=False,
        )
        if "install ok installed" not in out.stdout:
            missing.append(package)
    return missing


def ensure_build_packages():
    missing = _missing_debian_packages()
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        _run(["apt-get", "update", "-qq"], env=env)
        _run(["apt-get", "install", "-y", "-qq", *missing], env=env)
        return
    raise OdooSourceError(
        "Odoo's requirements build against Debian's " + ", ".join(missing) + ": install them "
        "with apt-get as root first."
    )


def requirements_file(folder, workdir):
    """Odoo's requirements with the pins that build here (a copy; the source is untouched)."""
    text = (folder / "requirements.txt").read_text()
    for pin, fixed in REQUIREMENT_FIXES.items():
        text = text.replace(pin, fixed)
    path = Path(workdir) / "odoo-requirements.txt"
    path.write_text(text)
    return path


def install(source, python=sys.executable, workdir=None):
    """Install Odoo from ``source`` into ``python``; return the installed version."""
    workdir = Path(workdir or Path.cwd() / ".local")
    workdir.mkdir(parents=True, exist_ok=True)
    folder = source_folder(source, workdir)
    ensure_build_packages()
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, "setuptools<81", "wheel"])
    _run([*pip, "--no-build-isolation", "-r", str(requirements_file(folder, workdir))])
    _run([*pip, "--no-deps", "-e", str(folder)])
    out = _run(
        [python, "-c", "from odoo import release; print(release.version)"],
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    version = out.stdout.strip()
    _say(f"Odoo {version} installed into {python} from {folder}")
    return version

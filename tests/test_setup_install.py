"""The set-up installs Odoo 19.0 itself from the source a newcomer gives it."""

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "setup"))

import odoo_install  # noqa: E402

RELEASE = 'version_info = ({major}, 0, 0, FINAL, 0)\nserie = "{major}.0"\n'


def fake_source(folder, major=19):
    """A minimal tree shaped like an Odoo source folder."""
    (folder / "odoo").mkdir(parents=True)
    (folder / "odoo" / "release.py").write_text(RELEASE.format(major=major))
    (folder / "requirements.txt").write_text("cbor2==5.4.2 ; python_version < '3.12'\n")
    return folder


def test_source_folder_tarball_and_bare_git(tmp_path):
    tree = fake_source(tmp_path / "odoo-19.0.post20251014")
    assert odoo_install.source_folder(tree, tmp_path / "work") == tree
    # The nightly tarball: one top folder holding the tree.
    tarball = tmp_path / "odoo_19.0.latest.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(tree, arcname=tree.name)
    unpacked = odoo_install.source_folder(tarball, tmp_path / "work")
    assert (unpacked / "odoo" / "release.py").is_file()
    # A bare git directory (branch 19.0): its HEAD is unpacked.
    work = tmp_path / "clone"
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    fake_source(work)
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "tree"], check=True)
    bare = tmp_path / "odoo.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    unpacked = odoo_install.source_folder(bare, tmp_path / "work2")
    assert (unpacked / "odoo" / "release.py").is_file()
    # The pins that build here, in a copy of the requirements.
    requirements = odoo_install.requirements_file(tree, tmp_path)
    assert "cbor2==5.6.2" in requirements.read_text()
    assert "cbor2==5.4.2" in (tree / "requirements.txt").read_text()


def test_wrong_sources_say_what_to_pass(tmp_path):
    with pytest.raises(odoo_install.OdooSourceError, match="Odoo 18.0"):
        odoo_install.source_folder(fake_source(tmp_path / "old", major=18), tmp_path / "w")
    with pytest.raises(odoo_install.OdooSourceError, match="github.com/odoo/odoo"):
        odoo_install.source_folder(tmp_path / "nowhere", tmp_path / "w")
    out = subprocess.run(
        [sys.executable, str(ROOT / "setup" / "install.py"), "--odoo-only"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 2
    assert "--odoo PATH" in out.stderr
    assert "nightly.odoo.com/19.0" in out.stderr


def test_install_odoo_into_a_fresh_virtual_environment(tmp_path):
    """setup/install.py --odoo with the Odoo source this machine has, into a new venv."""
    from odoo import release

    source = Path(release.__file__).resolve().parent.parent
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "setup" / "install.py"),
            "--odoo",
            str(source),
            "--python",
            str(python),
            "--odoo-only",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    check = subprocess.run(
        [str(python), "-c", "import odoo.release, odoo.tools; print(odoo.release.serie)"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert check.stdout.strip() == "19.0", check.stderr[-3000:]

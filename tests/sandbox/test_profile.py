"""The whole profile: how root decides between `nobody` and capability-less root, and round trips."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from nuvom.sandbox.profile import SandboxProfile, unreadable_by_others


def test_unreadable_by_others_names_the_first_closed_place():
    root = Path(tempfile.mkdtemp())  # pytest's tmp_path lies under a directory only root may enter
    try:
        os.chmod(root, 0o755)
        open_dir = root / "open"
        open_dir.mkdir(mode=0o755)
        (open_dir / "readable.txt").write_text("x")
        os.chmod(open_dir / "readable.txt", 0o644)
        (open_dir / "private.txt").write_text("x")
        os.chmod(open_dir / "private.txt", 0o600)
        closed = root / "closed"
        closed.mkdir(mode=0o700)
        (closed / "inside.txt").write_text("x")
        paths = [open_dir / "readable.txt", open_dir / "private.txt", closed / "inside.txt", root / "missing"]
        assert unreadable_by_others([str(path) for path in paths]) == [str(open_dir / "private.txt"), str(closed)]
    finally:
        shutil.rmtree(root)


def test_a_profile_survives_the_trip_through_the_host_command_line():
    profile = SandboxProfile(memory_mb=64, network=True, read_paths=("/a", "/b"), write_paths=("/c",), strict=True,
                             environment=("PATH",), private_tmp="/tmp/x")
    assert SandboxProfile.from_dict(profile.to_dict()) == profile
    assert SandboxProfile.from_dict({"memory_mb": 1, "from_a_newer_worker": True}).memory_mb == 1

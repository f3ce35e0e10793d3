"""caldav -> niquests -> urllib3-future must not replace the real urllib3 (requests needs it).

urllib3-future's wheel ships a .pth file that copies it over `site-packages/urllib3` on every
interpreter start. Built from source with URLLIB3_NO_OVERRIDE=1 (the Makefile and Dockerfile
do it) it installs only as `urllib3_future`. These checks fail on a venv where the override
happened.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import site
import sys
from pathlib import Path

import urllib3


def _site_dirs() -> list[Path]:
    dirs = [Path(p) for p in site.getsitepackages()]
    return [d for d in dirs if d.is_dir()] or [Path(sys.prefix)]


def test_urllib3_is_the_real_distribution() -> None:
    dist = importlib.metadata.distribution("urllib3")
    assert urllib3.__version__ == dist.version
    assert not urllib3.__version__.startswith("2.25"), "urllib3-future's version is in use"
    assert not hasattr(urllib3, "AsyncPoolManager"), "urllib3 is urllib3-future in disguise"
    init = Path(urllib3.__file__)
    assert not (init.parent / ".u3f_sync").exists(), "urllib3-future copied itself over urllib3"


def test_urllib3_files_match_their_record() -> None:
    """Every file urllib3's RECORD lists still has the hash it was installed with."""
    dist = importlib.metadata.distribution("urllib3")
    checked = 0
    for entry in dist.files or []:
        if entry.hash is None or not str(entry).endswith(".py"):
            continue
        digest = hashlib.new(entry.hash.mode, Path(str(entry.locate())).read_bytes()).digest()
        expected = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4))
        assert digest == expected, f"{entry} was overwritten"
        checked += 1
    assert checked > 10


def test_no_override_hook_is_installed() -> None:
    hooks = [p for d in _site_dirs() for p in d.glob("*.pth") if "urllib3" in p.read_text()]
    assert hooks == [], f"urllib3-future's start-up hook is installed: {hooks}"


def test_niquests_uses_urllib3_future_alongside() -> None:
    import niquests  # noqa: F401 - importing must work with the real urllib3 present
    import urllib3_future

    assert urllib3_future.__version__ != urllib3.__version__

"""The Debian packages the real-recordings corpus is read from, and fetching them into the repo.

Contract: ``fetch(root)`` leaves every package of ``TRAINING_PACKAGES`` unpacked under
``root/<package>/`` (``apt-get download`` + ``dpkg-deb -x``: nothing is installed system-wide, no
dependency is pulled), with ``root/<package>/.unpacked`` holding the version once it is complete,
so a second run skips it. Only audio, the Debian ``copyright`` files, Hydrogen's ``drumkit.xml``
and the zip archives that hide audio are kept: the big game packages are mostly graphics.

``RESERVED`` packages are kept for an independent evaluation and must never reach training,
tuning or checkpoint choice: ``require_not_reserved`` refuses them, and every entry point here
(fetch, scan, render) calls it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from fnmatch import fnmatch
from pathlib import Path

DEFAULT_ROOT = Path(".cache/debs")
STAMP = ".unpacked"

# Held back for the independent evaluation (issue 14): never fetched, scanned or rendered here.
RESERVED = (
    "asterisk-*",
    "sound-theme-freedesktop",
    "fluid-soundfont-gm",
    "fluid-soundfont-gs",
    "openttd-opensfx",
    "gcompris-qt-data",
    "widelands-data",
    "kajongg",
    "ktuberling-data",
)

# The survey's high-value subset first (speech, drum kits, Foley), then the packages that bring the
# class count past 50; small English speech sources last. Each is < 1 GB; the audio inside is small.
TRAINING_PACKAGES = (
    "tuxpaint-stamps-default",
    "fillets-ng-data-cs",
    "fillets-ng-data-nl",
    "festvox-ru",
    "klettres-data",
    "gcin-voice",
    "scratch",
    "hydrogen-drumkits",
    "hydrogen-drumkits-effects",
    "sonic-pi-samples",
    "minetest-data",
    "lugaru-data",
    "etw-data",
    "bucklespring-data",
    "wesnoth-1.16-data",
    "megaglest-data",
    "redeclipse-data",
    "flare-game",
    "lmms-common",
    "hydrogen-data",
    "berusky2-data",
    "scorched3d-data",
    "supertuxkart-data",
    "torcs-data",
    "searchandrescue-data",
    "codec2-examples",
    "hedgewars-data",
    "fretsonfire-songs-muldjord",
    "fretsonfire-songs-sectoid",
    "warzone2100-data",
    "lincity-ng-data",
    "triplea",
    "libreoffice-common",
    "qabcs-data",
    "openarena-data",
    "pekka-kana-2-data",
    "btanks-data",
    "warmux-data",
    "ardentryst",
    "caveexpress-data",
    "micropolis-data",
    "brainparty-data",
    "mame-data",
    "chuck-data",
    "plee-the-bear-data",
    "simutrans-pak64",
    "crossfire-client",
    "pocketsphinx-testdata",
    "saytime",
    "csmash-data",
    "scid-data",
    "alsa-utils",
    "brewtarget",
    "gigalomania-data",
)

AUDIO_SUFFIXES = (".ogg", ".oga", ".wav", ".flac", ".mp3", ".opus", ".au", ".aif", ".aiff")
# Zip files that hide audio: warzone2100's base.wz, openarena's pk3 archives.
ARCHIVE_SUFFIXES = (".wz", ".pk3")
KEPT_NAMES = ("copyright", "drumkit.xml")


class ReservedPackageError(ValueError):
    """A package held back for independent evaluation was asked for."""


def is_reserved(package: str) -> bool:
    return any(fnmatch(package, pattern) for pattern in RESERVED)


def require_not_reserved(package: str) -> str:
    if is_reserved(package):
        raise ReservedPackageError(
            f"{package} is reserved for independent evaluation and must never be used for training, "
            "tuning or checkpoint choice"
        )
    return package


def package_dir(root: Path, package: str) -> Path:
    return Path(root) / require_not_reserved(package)


def unpacked_version(root: Path, package: str) -> str | None:
    """The version unpacked under ``root``, or None when the package is absent or half unpacked."""
    stamp = package_dir(root, package) / STAMP
    return stamp.read_text().strip() if stamp.exists() else None


def _sudo() -> list[str]:
    return [] if os.geteuid() == 0 else ["sudo"]


def _download(packages: list[str], directory: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["apt-get", "download", *packages], cwd=directory, capture_output=True, text=True,
                          check=False)


def download(packages: list[str], directory: Path) -> None:
    """``apt-get download`` into ``directory``; one ``apt-get update`` when the lists are stale."""
    result = _download(packages, directory)
    if result.returncode != 0:
        print("apt-get download failed, updating the package lists once:", result.stderr.strip()[-500:])
        subprocess.run([*_sudo(), "apt-get", "update", "-qq"], check=True)
        result = _download(packages, directory)
    if result.returncode != 0:
        raise RuntimeError(f"apt-get download {' '.join(packages)} failed: {result.stderr.strip()[-2000:]}")


def _keep(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(AUDIO_SUFFIXES + ARCHIVE_SUFFIXES) or name in KEPT_NAMES


def unpack(deb: Path, destination: Path) -> str:
    """Extract ``deb`` into ``destination``, drop what the corpus never reads; returns the version."""
    version = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    partial = destination.with_name(destination.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(partial)], check=True)
    for path in sorted(partial.rglob("*"), reverse=True):
        if path.is_symlink() or (path.is_file() and not _keep(path)):
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    (partial / STAMP).write_text(version + "\n")
    shutil.rmtree(destination, ignore_errors=True)
    os.replace(partial, destination)
    return version


def fetch(root: Path = DEFAULT_ROOT, packages: tuple[str, ...] = TRAINING_PACKAGES) -> dict[str, str]:
    """Download and unpack every missing package; returns {package: version} for all of them."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for package in packages:
        require_not_reserved(package)
    missing = [p for p in packages if unpacked_version(root, p) is None]
    for start in range(0, len(missing), 8):  # a few at a time: the .debs are deleted once unpacked
        batch = missing[start : start + 8]
        with tempfile.TemporaryDirectory(prefix="debs-", dir=root) as directory:
            os.chmod(directory, 0o755)  # apt's _apt sandbox user must be able to write here
            download(batch, Path(directory))
            for package in batch:
                (deb,) = Path(directory).glob(f"{package}_*.deb")
                version = unpack(deb, package_dir(root, package))
                print(f"unpacked {package} {version}", flush=True)
    return {p: unpacked_version(root, p) for p in packages}

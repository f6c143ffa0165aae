"""The attribution file shipped with the weights: whose recordings the bundled model learned from.

Contract: ``write_attribution(debs)`` writes ``model/weights/ATTRIBUTION.md`` (packaged in the
wheel next to the weights) from the committed manifest and the unpacked packages' copyright
files: per Debian package, its version, how many files and minutes the corpus uses and for which
classes, the licences of those files, and the copyright holders named for them. Several sources
are CC-BY or CC-BY-SA, which require exactly this credit.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from .licences import Copyright
from .packages import DEFAULT_ROOT
from .real_manifest import Entry, read_manifest

ATTRIBUTION_PATH = Path(__file__).resolve().parents[2] / "model" / "weights" / "ATTRIBUTION.md"
MAX_HOLDERS = 40  # per package; the rest are in the package's copyright file

HEADER = """\
# Attribution: sounds the bundled model was trained on

The bundled model (`model/weights/`) was trained on mixtures the project renders itself
(`training/corpus/`): synthetic sources (espeak-ng, flite and festival voices; MIDI rendered
with the TimGM6mb and MuseScore General soundfonts; procedural alerts) and real recordings from
the Debian packages below, used under their licences. The files used, with their licence, are
listed in `training/corpus/real_manifest.csv.gz`; the full copyright notices are in each
package's `/usr/share/doc/<package>/copyright`.

Packages held back for independent evaluation (every `asterisk-*` sound package,
`sound-theme-freedesktop`, `fluid-soundfont-gm`, `fluid-soundfont-gs`, `openttd-opensfx`,
`gcompris-qt-data`, `widelands-data`, `kajongg`, `ktuberling-data`) were never used for training,
tuning or choosing checkpoints.

"""


def write_attribution(debs: Path = DEFAULT_ROOT, entries: list[Entry] | None = None,
                      path: Path = ATTRIBUTION_PATH) -> Path:
    entries = read_manifest() if entries is None else entries
    by_package: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_package[entry.package].append(entry)
    sections = [HEADER]
    for package in sorted(by_package):
        used = by_package[package]
        copyright = Copyright.read(Path(debs) / package, package)
        licences = sorted({e.licence for e in used})
        holders: list[str] = []
        for entry in used:
            for holder in copyright.holders_of(entry.path):
                if holder not in holders:
                    holders.append(holder)
        classes = sorted({e.label for e in used})
        lines = [
            f"## {package} {used[0].version}",
            "",
            f"- used: {len(used)} files, {sum(e.seconds for e in used) / 60:.1f} min; classes: {', '.join(classes)}",
            f"- licence: {'; '.join(licences)}",
        ]
        if copyright.upstream:
            lines.append(f"- upstream: {copyright.upstream}")
        if holders:
            lines.append("- copyright:")
            lines += [f"  - {holder}" for holder in holders[:MAX_HOLDERS]]
            if len(holders) > MAX_HOLDERS:
                lines.append(f"  - and {len(holders) - MAX_HOLDERS} more: see /usr/share/doc/{package}/copyright")
        sections.append("\n".join(lines) + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(sections))
    return path

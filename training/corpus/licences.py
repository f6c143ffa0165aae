"""Licences and copyright holders of packaged files, read from the packages' Debian copyright files.

Contract: ``Copyright.read(package_root, package)`` parses ``usr/share/doc/<package>/copyright``;
``licence_of(path) -> str`` gives the short licence name(s) of one installed file and
``holders_of(path) -> list[str]`` its copyright lines.

Machine-readable (DEP-5) files are matched stanza by stanza, the last matching ``Files:`` stanza
winning as the format says. Its globs are relative to the upstream source tree, not to the
installed path, so a glob matches when it matches any tail of the installed path (or of the
path inside a zip archive): ``data/sounds/*`` matches
``usr/share/games/redeclipse/data/sounds/ambience/creek.ogg``. ``debian/*`` stanzas are ignored.
Older free-form copyright files have no per-file information: ``FREE_FORM`` gives their licence,
as read by a person from the file, and their copyright lines are taken as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

# Licence of the packages whose copyright file is free-form (read from the file itself).
FREE_FORM = {
    "crossfire-client": "GPL-2+ (sounds: GPL-2+, CC-BY-SA-3.0, CC-BY-3.0)",
    "csmash-data": "GPL-2+",
    "fillets-ng-data-cs": "GPL-2+",
    "fillets-ng-data-nl": "GPL-2+",
    "fretsonfire-songs-muldjord": "CC-BY-SA-3.0",
    "fretsonfire-songs-sectoid": "Expat (MIT)",
    "plee-the-bear-data": "GPL-3+, CC-BY-SA-3.0",
    "saytime": "GPL (sound files)",
    "searchandrescue-data": "GPL-2+",
    "warmux-data": "GPL-2+",
    "wesnoth-1.16-data": "GPL-2+",
}


@dataclass
class Stanza:
    patterns: list[str]
    holders: list[str]
    licence: str


@dataclass
class Copyright:
    package: str
    stanzas: list[Stanza] = field(default_factory=list)
    free_form_holders: list[str] = field(default_factory=list)
    upstream: str = ""

    @classmethod
    def read(cls, package_root: Path, package: str) -> Copyright:
        path = Path(package_root) / "usr/share/doc" / package / "copyright"
        text = path.read_text(errors="replace") if path.exists() else ""
        copyright = cls(package)
        if text.startswith("Format:"):
            copyright._parse_dep5(text)
        else:
            copyright.free_form_holders = _free_form_holders(text)
        return copyright

    def _parse_dep5(self, text: str) -> None:
        for paragraph in re.split(r"\n\s*\n", text):
            fields = _fields(paragraph)
            if "upstream-name" in fields or "source" in fields and "files" not in fields:
                self.upstream = fields.get("source", fields.get("upstream-name", "")).split("\n")[0].strip()
            if "files" not in fields:
                continue
            patterns = fields["files"].split()
            if all(p.startswith("debian/") for p in patterns):
                continue
            holders = [line.strip() for line in fields.get("copyright", "").split("\n") if line.strip()]
            licence = fields.get("license", "").split("\n")[0].strip()
            self.stanzas.append(Stanza(patterns, holders, licence))

    def _stanza_of(self, path: str) -> Stanza | None:
        inner = path.split("!")[-1]
        tails = _tails(inner) + (_tails(path.split("!")[0]) if "!" in path else [])
        # First the globs as written; when only a catch-all ("*", "*.ogg") matched, the globs
        # without their leading source folders (see _installed_forms).
        found, specific = None, False
        for stanza in self.stanzas:
            for pattern in stanza.patterns:
                if pattern == "*" or any(fnmatch(tail, pattern) for tail in tails):
                    found, specific = stanza, "/" in pattern
                    break
        if specific:
            return found
        for stanza in self.stanzas:
            if any(fnmatch(tail, form) for p in stanza.patterns for form in _installed_forms(p)[1:] for tail in tails):
                found = stanza
        return found

    def licence_of(self, path: str) -> str:
        if self.package in FREE_FORM:
            return FREE_FORM[self.package]
        stanza = self._stanza_of(path)
        if stanza is not None and stanza.licence:
            return stanza.licence
        licences = sorted({s.licence for s in self.stanzas if s.licence})
        return ", ".join(licences) or f"see /usr/share/doc/{self.package}/copyright"

    def holders_of(self, path: str) -> list[str]:
        if not self.stanzas:
            return self.free_form_holders
        stanza = self._stanza_of(path)
        return stanza.holders if stanza is not None else []


def _fields(paragraph: str) -> dict[str, str]:
    """Field name (lower case) -> value, continuation lines joined with newlines."""
    fields: dict[str, str] = {}
    name = None
    for line in paragraph.split("\n"):
        if line[:1] in (" ", "\t") and name is not None:
            fields[name] += "\n" + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            fields[name] = value.strip()
    return fields


def _installed_forms(pattern: str) -> list[str]:
    """A source glob and what it may be called once installed: its tails without leading source
    folders (``etc/samples/x.flac`` is installed as ``.../samples/x.flac``) as long as they still
    name a literal file or two folders, and Hydrogen's ``drumkits/Kit.h2drumkit`` archives, which are
    unpacked into ``drumkits/Kit/`` ("circAfrique" is installed as "circAfrique v4")."""
    forms = [pattern]
    if pattern.endswith(".h2drumkit"):
        pattern = pattern[: -len(".h2drumkit")] + "*/*"
        forms.append(pattern)
    parts = pattern.split("/")
    for start in range(1, len(parts)):
        tail = parts[start:]
        if any(c in tail[0] for c in "*?["):
            break
        # "sounds/*" alone would claim every sound of the package: keep a literal file name, or
        # at least two folders before a wildcard.
        if not any(c in tail[-1] for c in "*?[") or len(tail) >= 3:
            forms.append("/".join(tail))
    return forms


def _tails(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[i:]) for i in range(len(parts))]


def _free_form_holders(text: str) -> list[str]:
    """Lines naming copyright holders or authors in a free-form copyright file (packaging excluded)."""
    lines = []
    for line in text.split("\n"):
        stripped = line.strip().strip("*").strip()
        holder = re.match(r"(?i)^(copyright\s*(\(c\)|©)?\s*\d|copyright\s+\d|upstream authors?|\(c\)\s*\d)", stripped)
        if holder and "debian" not in stripped.lower() and "packag" not in stripped.lower():
            lines.append(stripped)
    return lines[:40]

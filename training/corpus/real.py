"""Which class (if any) a file of a Debian package belongs to, decided from its path alone.

Contract: ``classify(package, path) -> Assignment | Skip``. ``path`` is the file's path inside
the unpacked package (``usr/share/...``); a file inside a zip archive is ``archive!inner/path``.
An ``Assignment`` names the class label (one of ``ALL_CLASSES``), and for speech the speaker,
language and tier; a ``Skip`` says why the file is not used. The decision is mechanical and
reviewable, in this order (first match wins):

1. ``EXCLUDE``: user-interface blips, electronic or synthesised samples, text-to-speech, files of
   doubtful licence, layered scenes whose names list several sources.
2. ``SPEECH_SOURCES``: per package, a path pattern that says the file is a person speaking, with
   the language and the speaker (package + language or voice directory). Tier A is natural
   speech; tier B is real but processed or acted (game voice-over, radio filter).
3. Per-package knowledge: Hydrogen drum kits (their ``drumkit.xml`` names every sample),
   Megaglest units (``<unit>_<action>N.wav``), music folders, Frets on Fire guitar stems.
4. ``RULES``: priority-ordered token rules on the file name (split on ``_ - . space``, camelCase
   and digits, plus each pair of neighbouring tokens joined, so "Foot Step" also gives
   "footstep"). A token matches exactly or as a shell pattern; each rule may be limited to some
   packages (allow) or exclude some (deny), and may require a second token (``also``). Exact
   tokens keep false friends out: "lamborghinidiablo" is not "lamb", "antlion" not "lion",
   "ParklandPlane" is denied to "airplane" by package, "belly" is not "bell".

No package of ``packages.RESERVED`` is ever classified: ``classify`` refuses them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from xml.etree import ElementTree

from .packages import require_not_reserved


@dataclass(frozen=True)
class Assignment:
    label: str
    tier: str = "A"  # A: natural recording; B: real but processed or acted (marked in the manifest)
    speaker: str = ""  # speech only: package/<language or voice directory>
    language: str = ""
    reason: str = ""  # which rule decided, for review


@dataclass(frozen=True)
class Skip:
    reason: str


# ---- tokens ----------------------------------------------------------------------------------


def tokens(text: str) -> list[str]:
    """Lower-case words of a file or directory name; neighbouring pairs are also joined."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    words = [w.lower() for w in re.split(r"[^A-Za-z]+", text) if w]
    return words + [a + b for a, b in pairwise(words)]


def name_tokens(path: str) -> list[str]:
    name = path.rsplit("/", 1)[-1].rsplit("!", 1)[-1]
    return tokens(name.rsplit(".", 1)[0])


def directory_tokens(path: str) -> list[str]:
    parts = re.split(r"[/!]", path)[:-1]
    return [t for part in parts for t in tokens(part)]


def _matches(patterns: tuple[str, ...], words: list[str]) -> str | None:
    for pattern in patterns:
        for word in words:
            if word == pattern or (any(c in pattern for c in "*?[") and fnmatch(word, pattern)):
                return word
    return None


# ---- exclusions ------------------------------------------------------------------------------

# (package pattern, path pattern, reason); fnmatch patterns, '*' crosses '/'.
EXCLUDE: tuple[tuple[str, str, str], ...] = (
    # Text-to-speech and other synthetic voices.
    ("qabcs-data", "*/abcs/*/sounds/*", "qabcs words and letters: probably TTS"),
    ("openarena-data", "*festivoxmale*", "Festival TTS voice"),
    ("hedgewars-data", "*/voices/Robot/*", "vocoded robot voice"),
    ("sonic-pi-samples", "*/mehackit_robot*", "synthetic robot voice"),
    ("sonic-pi-samples", "*/glitch_robot*", "synthetic robot voice"),
    # Electronic or synthesised instruments and effects.
    ("hydrogen-drumkits", "*/ElectricEmpireKit/*", "electronic drum kit"),
    ("hydrogen-drumkits", "*/HardElectro1/*", "electronic drum kit"),
    ("hydrogen-data", "*/TR808EmulationKit/*", "electronic drum kit"),
    ("hydrogen-data", "*/data/click.wav", "metronome click"),
    ("hydrogen-data", "*/emptySample.wav", "empty sample"),
    ("sonic-pi-samples", "*/elec_*", "electronic sample"),
    ("sonic-pi-samples", "*/glitch_*", "electronic sample"),
    ("sonic-pi-samples", "*/bass_*", "synthesised bass"),
    ("sonic-pi-samples", "*/bd_*", "electronic kick drums"),
    ("sonic-pi-samples", "*/sn_*", "electronic snares"),
    ("sonic-pi-samples", "*/buffers/*", "random noise buffer"),
    ("sonic-pi-samples", "*/loop_[!at]*", "electronic loops (amen, breakbeat, tabla and safari are kept)"),
    ("sonic-pi-samples", "*/ambi_[!cgp]*", "synthesised ambience"),
    ("sonic-pi-samples", "*/misc_cineboom*", "synthesised boom"),
    ("lmms-common", "*/samples/waveforms/*", "single-cycle waveforms"),
    ("lmms-common", "*/samples/shapes/*", "synthesised shapes"),
    ("lmms-common", "*/samples/basses/*", "synthesised basses"),
    ("lmms-common", "*/samples/bassloops/*", "synthesised bass loops"),
    ("lmms-common", "*/samples/stringsnpads/*", "synthesised pads"),
    ("lmms-common", "*/samples/effects/*", "synthesised effects"),
    ("lmms-common", "*/beats/909*", "drum machine"),
    ("lmms-common", "*/beats/electro*", "drum machine"),
    ("lmms-common", "*/beats/house*", "drum machine"),
    ("lmms-common", "*/beats/rave*", "drum machine"),
    ("lmms-common", "*/drums/*kick_distorted*", "processed kick"),
    ("lmms-common", "*/drums/*hardcore*", "electronic kick"),
    ("lmms-common", "*/drums/*electro*", "electronic snare"),
    ("lmms-common", "*/drums/nasty_*", "electronic drums"),
    ("lmms-common", "*/drums/zap*", "electronic zap"),
    ("lmms-common", "*/misc/*!.ogg", "synthesised blips"),
    ("lmms-common", "*/misc/electric_ping*", "synthesised blip"),
    ("lmms-common", "*/misc/undefined*", "unlabelled"),
    ("lmms-common", "*/instruments/e_*", "electric piano and organ (synthesised)"),
    ("scratch", "*/Sounds/Electronic/*", "electronic effects"),
    ("scratch", "*/Music Loops/Techno*", "electronic loop"),
    ("scratch", "*/Music Loops/DrumMachine*", "drum machine"),
    ("scratch", "*/Music Loops/HipHop*", "electronic loop"),
    ("triplea", "*/sounds/future/*", "science-fiction lasers and robots"),
    # Layered scenes: the names list several sources at once (cannons and muskets and horses).
    ("triplea", "*/battle_*", "layered battle scene"),
    ("triplea", "*/bombing_*", "layered bombing scene"),
    ("triplea", "*/territory_capture_*", "layered scene"),
    ("ardentryst", "*/MonsterSounds/*", "fantasy creature sounds"),
    ("sonic-pi-samples", "*/vinyl_*", "record-player effects"),
    ("chuck-data", "*/stereo_fx_*", "synthesised effects"),
    ("chuck-data", "*/twilight*", "granular synthesis"),
    ("chuck-data", "*/click_0*", "metronome click"),
    # User-interface sounds: beeps and clicks of menus, not recordings of anything.
    ("openarena-data", "*/sound/items/*", "game pickup effects"),
    ("openarena-data", "*/sound/feedback/*", "hit markers"),
    ("openarena-data", "*/sound/misc/*", "menu and pickup sounds"),
    ("openarena-data", "*/ui/*", "menu sounds"),
    ("openarena-data", "*/weapons/plasma/*", "science-fiction weapon"),
    ("openarena-data", "*/weapons/bfg/*", "science-fiction weapon"),
    ("openarena-data", "*/weapons/lightning/*", "science-fiction weapon"),
    ("openarena-data", "*/weapons/railgun/*", "science-fiction weapon"),
    ("openarena-data", "*/weapons/nailgun/*", "science-fiction weapon"),
    ("openarena-data", "*/weapons/proxmine/*", "science-fiction weapon"),
    ("openarena-data", "*/footsteps/energy*", "science-fiction footsteps"),
    ("openarena-data", "*/footsteps/mech*", "mechanical robot footsteps"),
    ("btanks-data", "*/sounds/menu/*", "menu sounds"),
    ("megaglest-data", "*/core/menu/sound/*", "menu sounds"),
    ("redeclipse-data", "*/sounds/interface/*", "menu sounds"),
    ("redeclipse-data", "*/weapons/*", "science-fiction weapons"),
    ("redeclipse-data", "*/ambience/morph/ambient*", "synthesised drones"),
    ("warzone2100-data", "*/audio/sfx/interfce/*", "interface beeps"),
    ("warzone2100-data", "*/audio/radclick/*", "radio clicks"),
    ("warzone2100-data", "*/audio/multi/*", "science-fiction effects"),
    ("wesnoth-1.16-data", "*/1.16/sounds/*", "interface sounds"),
    ("mame-data", "*/MM1_keyboard/*", "interface beep"),
    ("micropolis-data", "*/sounds/[aeo].wav", "single-letter interface sounds"),
    ("*", "*menu*", "menu sound"),
    # Doubtful or undocumented licences.
    ("wims-help", "*", "commercial songs and speech of doubtful licence"),
)


def excluded(package: str, path: str) -> str | None:
    for package_pattern, path_pattern, reason in EXCLUDE:
        if fnmatch(package, package_pattern) and fnmatch(path, path_pattern):
            return reason
    return None


# ---- speech ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechSource:
    """Files of ``package`` whose path matches ``pattern`` are speech. The named groups of the
    pattern give the language (``lang``) and the voice (``voice``); missing ones come from the
    defaults. ``kind``: words, phrases or sentences (how a clip is put together)."""

    package: str
    pattern: str
    language: str = ""
    voice: str = ""
    tier: str = "A"
    kind: str = "phrases"

    def match(self, package: str, path: str) -> Assignment | None:
        if package != self.package:
            return None
        found = re.search(self.pattern, path)
        if found is None:
            return None
        groups = found.groupdict()
        language = _language(groups.get("lang") or self.language)
        voice = groups.get("voice") or self.voice or language
        return Assignment("speech", self.tier, f"{package}/{voice}", language, f"speech: {self.kind}")


def _language(code: str) -> str:
    code = code.replace("-", "_")
    return code.lower() if "_" not in code else code.split("_")[0].lower() + "_" + code.split("_")[1].upper()


SPEECH_SOURCES: tuple[SpeechSource, ...] = (
    # Stamp descriptions read by one volunteer per language (named in the changelog); no suffix: English.
    SpeechSource("tuxpaint-stamps-default", r"_desc_(?P<lang>[a-z]{2}(?:_[A-Za-z]{2})?)\.ogg$"),
    SpeechSource("tuxpaint-stamps-default", r"_desc\.ogg$", language="en"),
    # Digits and letters spoken per language (same speaker id as the descriptions: it may be the same person).
    SpeechSource("tuxpaint-stamps-default", r"/symbols/math/\d_(?P<lang>[a-z]{2}(?:_[A-Za-z]{2})?)\.ogg$",
                 kind="words"),
    SpeechSource("tuxpaint-stamps-default", r"/symbols/math/\d\.ogg$", language="en", kind="words"),
    SpeechSource("tuxpaint-stamps-default", r"/symbols/alphabets/english/[^/]*\.ogg$", language="en", kind="words"),
    SpeechSource("tuxpaint-stamps-default", r"/symbols/alphabets/german/[^/]*\.ogg$", language="de", kind="words"),
    # Fish Fillets dialogue: <level>-<character>-<line>.ogg; the character code is the voice.
    SpeechSource("fillets-ng-data-cs", r"/sound/[^/]+/cs/[^/-]+-(?P<voice>[a-z]+)-[^/]*\.ogg$", language="cs"),
    SpeechSource("fillets-ng-data-cs", r"/sound/.*\.ogg$", language="cs", voice="cs-other"),
    SpeechSource("fillets-ng-data-nl", r"/sound/[^/]+/nl/[^/-]+-(?P<voice>[a-z]+)-[^/]*\.ogg$", language="nl"),
    SpeechSource("fillets-ng-data-nl", r"/sound/.*\.ogg$", language="nl", voice="nl-other"),
    SpeechSource("festvox-ru", r"/msu_ru_nsh_clunits/wav/ru_\d+\.wav$", language="ru", voice="msu_ru_nsh",
                 kind="sentences"),
    SpeechSource("klettres-data", r"/klettres/(?P<lang>[a-zA-Z_]+)/(?:alpha|syllab)/", kind="words"),
    SpeechSource("gcin-voice", r"/ogg/[^/]+/(?P<voice>\d)\.ogg$", language="zh", kind="words"),
    # One speaker id for the whole package: hts1a/hts2a, morig/m2400 are the same people.
    SpeechSource("codec2-examples", r"/codec2/(?:wav|raw)/[^/]*\.wav$", language="en", voice="all", kind="sentences"),
    SpeechSource("pocketsphinx-testdata", r"/data/(?P<voice>cards|librivox)/[^/]*\.wav$", language="en",
                 kind="sentences"),
    SpeechSource("saytime", r"/saytime/[^/]*\.au$", language="en", voice="en", kind="words"),
    SpeechSource("csmash-data", r"/wav/(?!click|racket|table)[^/]*\.wav$", language="en", voice="en", kind="words"),
    SpeechSource("scid-data", r"/sounds/(?!alert|move)[^/]*\.wav$", language="en", voice="en", kind="words"),
    SpeechSource("alsa-utils", r"/sounds/alsa/(?!Noise)[^/]*\.wav$", language="en", voice="en", kind="words"),
    SpeechSource("brewtarget", r"/sounds/(?!beep)[^/]*\.wav$", language="en", voice="en"),
    SpeechSource("gigalomania-data", r"/sound/(?:it_s|putting|the_|tower|we_)[^/]*\.wav$", language="en", voice="en"),
    # Tier B: real voices, but acted, shouted, radio-filtered or processed.
    # Hedgewars voice packs: Default_<lang> packs and the Russian ones speak their language.
    SpeechSource(
        "hedgewars-data",
        r"/voices/(?P<voice>Default_(?P<lang>[a-z]{2}))/(?!Laugh|Ow|Ooff|Ouch|Poison|Jump|Firepunch)[^/]*\.ogg$",
        tier="B",
    ),
    SpeechSource("hedgewars-data", r"/voices/(?P<voice>Russian)/(?!Laugh|Ow|Ooff|Ouch|Poison|Jump|Firepunch)[^/]*\.ogg",
                 language="ru", tier="B"),
    SpeechSource("hedgewars-data", r"/voices/(?P<voice>Russian_pl)/(?!Laugh|Ow|Ooff|Ouch|Poison|Jump|Firepunch)[^/]*",
                 language="pl", tier="B"),
    SpeechSource(
        "hedgewars-data",
        r"/voices/(?P<voice>[^/]+)/(?!Laugh|Ow|Ooff|Ouch|Poison|Jump|Firepunch)[^/]*\.ogg$",
        language="en",
        tier="B",
    ),
    SpeechSource(
        "warzone2100-data",
        r"!(?:audio/(?:tutorial|memressp|countdown|vtoltalk|trnsppil|extra|coltive|proxmessages)/|sequenceaudio/)",
        language="en",
        voice="voice-over",
        tier="B",
        kind="sentences",
    ),
    SpeechSource("redeclipse-data", r"/sounds/(?P<voice>announcer)/[^/]*\.ogg$", language="en", tier="B"),
    SpeechSource(
        "redeclipse-data", r"/sounds/voice/(?!argh|haha|pzap|boom)[^/]*\.ogg$", language="en", voice="taunts", tier="B"
    ),
    SpeechSource("openarena-data", r"/voices/(?P<voice>rott)/[^/]*\.ogg$", language="en", tier="B"),
    SpeechSource("flare-game", r"/npcs/(?P<voice>female|male)_merchant_\d+\.ogg$", language="en", tier="B"),
)

# ---- drums, named by Hydrogen's drumkit.xml or by the file name ---------------------------------

DRUM_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hand clapping", ("clap", "handclap", "claps")),
    ("hand percussion", (
        "cowbell", "agogo", "bongo", "conga", "congas", "kongas", "cajon", "clave", "claves", "djembe*", "sangban*",
        "dununba*", "kenkeni*", "maraca", "maracas", "shaker", "tambourine", "woodblock", "wood", "waterglass*",
        "snap", "snaps", "fingersnap*", "tabla", "triangle", "clav", "rattle",
    )),
    ("hi-hat", ("hat", "hats", "hh", "hihat", "hh*", "chh", "ohh", "hi")),
    ("cymbal", ("crash", "ride", "splash", "china", "cymbal", "cymbals", "bell", "ridebell", "cup", "crashinch",
                "swash")),
    ("tom drum", ("tom", "toms", "floortom", "tomtom", "tomhi*", "tomlow")),
    ("snare drum", ("snare", "stick", "sidestick", "rim", "rimshot", "rimclick", "sd", "redo")),
    ("kick drum", ("kick", "bassdrum", "bd", "kik")),
    ("drums", ("drum", "drums", "drumkit", "break", "roll", "amen", "breakbeat", "jungle", "drumset", "buzz",
               "drumbuzz")),
)


def drum_label(name: str) -> str | None:
    words = tokens(name)
    # "Bass Drum" is a kick drum and "drum_bass" in sonic-pi too; "Ride Bell" is a cymbal.
    if "bass" in words and ("drum" in words or "bd" in words):
        return "kick drum"
    for label, patterns in DRUM_RULES:
        if _matches(patterns, words):
            return label
    return None


@lru_cache(maxsize=64)
def _drumkit_names(drumkit_xml: Path) -> dict[str, str]:
    """{sample file name: instrument name} from a Hydrogen drumkit.xml."""
    root = ElementTree.parse(drumkit_xml).getroot()
    namespace = root.tag.split("}")[0] + "}" if "}" in root.tag else ""
    names = {}
    for instrument in root.iter(namespace + "instrument"):
        name = instrument.findtext(namespace + "name") or ""
        for filename in instrument.iter(namespace + "filename"):
            if filename.text:
                names[Path(filename.text).name] = name
    return names


def hydrogen_label(package_root: Path | None, path: str) -> Assignment | Skip:
    kit = path.split("/drumkits/")[1].split("/")[0]
    if kit == "belofilms_GuitarStrums":
        return Assignment("acoustic guitar", reason="hydrogen: guitar strum kit")
    name = Path(path).name
    instrument = ""
    if package_root is not None:
        xml = package_root / path.rsplit("/", 1)[0] / "drumkit.xml"
        if xml.exists():
            instrument = _drumkit_names(xml).get(name, "")
    if not instrument:
        instrument = Path(name).stem  # GMRockKit's files are named after their instrument
    label = drum_label(instrument)
    if label is None:
        return Skip("hydrogen instrument without a class (unnamed or numbered sample)")
    return Assignment(label, reason=f"hydrogen drumkit.xml: {instrument}")


# ---- megaglest units: <unit>_<action>N.wav ----------------------------------------------------

MEGAGLEST_ANIMALS = {
    "cow": "cow mooing", "bull": "cow mooing", "mudchute": "cow mooing", "chicken": "chicken clucking",
    "rooster": "chicken clucking", "pig": "pig oinking", "sheep": "sheep bleating", "ele": "wild animal",
    "eleattack": "wild animal", "eagle": "bird song", "hawk": "bird song", "owl": "bird song", "wolf": "wolf howling",
    "bee": "insects buzzing",
}
MEGAGLEST_MELEE = ("swordman", "guard", "spearman", "warrior", "cudgel", "stickfighter", "horseman", "valkyrie")
MEGAGLEST_HUMANS = MEGAGLEST_MELEE + (
    "archer", "princess", "worker", "technician", "initiate", "battlemage", "archmage", "summoner", "shaman",
    "axe", "thrower",
)


def megaglest_label(path: str) -> Assignment | Skip | None:
    words = name_tokens(path)
    if not words:
        return None
    first = words[0]
    if first in MEGAGLEST_ANIMALS:
        return Assignment(MEGAGLEST_ANIMALS[first], reason="megaglest animal unit")
    if "/units/" not in path and "/commondata/" not in path:
        return None
    if first in MEGAGLEST_MELEE and "attack" in words:
        return Assignment("sword fight", reason="megaglest melee attack")
    if first in MEGAGLEST_HUMANS and "die" in words:
        return Assignment("groaning in pain", reason="megaglest human unit dies")
    if "ack" in words or "select" in words or "sel" in words:
        return Skip("megaglest unit acknowledgement (partly gibberish voice acting)")
    return None


# ---- music -----------------------------------------------------------------------------------

MUSIC_DIRECTORIES = ("music", "tunes", "bgm")
# Music files outside a music folder, or folders holding other things too.
MUSIC_FILES = (
    ("redeclipse-data", "*/data/sounds/theme*.ogg"),
    ("redeclipse-data", "*/data/sounds/original.ogg"),
    ("redeclipse-data", "*/data/maps/*.ogg"),
    ("supertuxkart-data", "*/data/tracks/*/[A-Z]*_*.ogg"),
    ("supertuxkart-data", "*/tracks/cave/beneath_the_rabbit_hole.ogg"),
    ("triplea", "*Anthem_Intro*"),
    ("triplea", "*overture*"),
    ("triplea", "*classic_music*"),
    ("triplea", "*la_reine*"),
    ("triplea", "*epic*"),
    ("triplea", "*lotr*"),
    ("triplea", "*battlemarch*"),
    ("triplea", "*gladiator*"),
    ("caveexpress-data", "*/music-*"),
    ("etw-data", "*/music/back*"),
    ("fretsonfire-songs-*", "*/song.ogg"),
    ("warmux-data", "*/disco_grenade_music*"),
)
NOT_MUSIC = (
    ("flare-game", "*/wind_ambient.ogg"),
    ("lugaru-data", "*/Music*.ogg"),  # kept below as music: the name starts with Music
)


def music_label(package: str, path: str) -> Assignment | None:
    for package_pattern, path_pattern in MUSIC_FILES:
        if fnmatch(package, package_pattern) and fnmatch(path, path_pattern):
            return Assignment("music", reason="known music file")
    if package == "flare-game" and path.endswith("wind_ambient.ogg"):
        return None
    directories = [d.lower() for d in re.split(r"[/!]", path)[:-1]]
    if any(d in MUSIC_DIRECTORIES for d in directories):
        return Assignment("music", reason="file in a music folder")
    if package == "lugaru-data" and Path(path).name.startswith("Music"):
        return Assignment("music", reason="lugaru music file")
    return None


# ---- token rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    label: str
    tokens: tuple[str, ...]
    packages: tuple[str, ...] = ()  # allow list (fnmatch); empty: every package
    deny_packages: tuple[str, ...] = ()
    deny_tokens: tuple[str, ...] = ()  # a file with any of these tokens is not this class
    also: tuple[str, ...] = ()  # when given, one of these tokens must be present too
    where: str = "name"  # "name": file name tokens; "path": directories too
    tier: str = "A"

    def match(self, package: str, path: str) -> Assignment | None:
        if self.packages and not any(fnmatch(package, p) for p in self.packages):
            return None
        if any(fnmatch(package, p) for p in self.deny_packages):
            return None
        words = name_tokens(path) + (directory_tokens(path) if self.where == "path" else [])
        # ("*",) takes every file of the allowed packages, even one named only by digits.
        found = "*" if self.tokens == ("*",) else _matches(self.tokens, words)
        if found is None or _matches(self.deny_tokens, words) is not None:
            return None
        if self.also and _matches(self.also, words) is None:
            return None
        return Assignment(self.label, self.tier, reason=f"token {found!r}")


# Games whose creature, monster and magic sounds are not animals or people.
FANTASY = ("flare-game", "ardentryst", "wesnoth-1.16-data", "megaglest-data", "freedroidrpg-data")
CREATURES = (
    "drake", "gryphon", "wyvern", "ghoul", "ghost", "skeleton", "zombie", "minotaur", "antlion", "goblin", "slime",
    "worm", "jelly", "pod", "poispod", "spider", "cspider", "wasp", "ogre", "snowogre", "behemoth", "dragon", "daemon",
    "genie", "golem", "monster", "mummy", "troll", "lich", "hiss", "bat", "grave", "naga", "mermaid", "saurian", "wose",
    "yeti", "hell", "demon", "evil", "alien", "robo", "robot", "orni", "airship", "machine", "catapult", "tower",
)

RULES: tuple[Rule, ...] = (
    # --- whole packages or folders with one obvious class ---
    Rule("keyboard typing", ("*",), packages=("bucklespring-data",)),
    Rule("bass guitar", ("bassslap",), packages=("lmms-common",)),
    Rule("music", ("*",), packages=("scratch",), where="path", also=("loops",),
         deny_tokens=("drum", "drums", "drumset", "guitar", "guitarchords", "xylo", "beatbox", "humanbeatbox",
                      "dripdrop")),
    Rule("horse", ("walk",), packages=("megaglest-data",), also=("horseman",)),
    Rule("wolf howling", ("growl", "snarl"), packages=("lugaru-data",)),
    Rule("helicopter", ("engine",), packages=("searchandrescue-data",), where="path", also=("hh",)),
    Rule("cannon fire", ("large", "medium", "small", "xlarge"), packages=("scorched3d-data",), where="path",
         also=("shoot",)),
    Rule("gunshot", ("thunderstick", "dragonstick"), packages=("wesnoth-1.16-data",), deny_tokens=("miss",)),
    Rule("trumpet", ("fanfare",), packages=("wesnoth-1.16-data",)),
    Rule("footsteps", ("steps*", "wstep"), packages=("berusky2-data",)),
    Rule("door", ("dvere*",), packages=("berusky2-data",)),
    Rule("water splashing", ("impact",), packages=("caveexpress-data",), also=("water",)),
    Rule("hand percussion", ("snap", "fingersnap"), packages=("sonic-pi-samples", "scratch")),
    Rule("bell ringing", ("bell",), packages=("sonic-pi-samples",)),
    # --- instruments (before animals: "horn", "bass") ---
    Rule("electric guitar", ("guit", "electricguitar"), packages=("sonic-pi-samples", "qabcs-data")),
    Rule("electric guitar", ("distorted",), packages=("lmms-common",), also=("guitar",)),
    Rule("acoustic guitar", (
        "guitar", "guitars", "guitarstrum", "guitarchords", "ukulele", "banjo", "lute", "geetar", "stringpluck",
        "afrostring", "latinguitar", "steelguitar",
    ), deny_tokens=("electric", "bass", "air"), deny_packages=("plee-the-bear-data",)),
    Rule("violin", ("violin", "viola", "fiddle", "cello", "erhu", "gamba")),
    Rule("flute", ("flute", "recorder", "piccolo", "quena", "ney", "xun", "panflute", "whistleflute"),
         deny_packages=("warmux-data",)),
    Rule("trumpet", ("trumpet", "bugle", "cornet", "latinbrass", "fanfare"), deny_packages=("wesnoth-1.16-data",)),
    Rule("horn blowing", ("horn", "warhorn", "naturalhorn"), packages=("wesnoth-1.16-data", "qabcs-data", "triplea")),
    Rule("church organ", ("organ", "churchorgan", "handorgan"), deny_tokens=("e",)),
    Rule("piano", ("piano", "grandpiano", "harpsichord", "keyboardpiano"), deny_packages=("berusky2-data",)),
    Rule("singing", ("vocals", "singer", "sing", "choir", "hallelujah", "chorus"), where="path",
         packages=("scratch", "sonic-pi-samples", "lmms-common", "etw-data")),
    Rule("singing", ("singing",), packages=("triplea",)),
    # --- drums outside drum kits ---
    Rule("drums", ("drumkit", "drums", "drumset", "wardrums", "drumming", "breakbeat", "amen", "jungle", "drum"),
         deny_tokens=("tomtom", "bass", "slit", "buzz", "machine")),
    Rule("drums", ("break",), packages=("lmms-common",), where="path", also=("beats",)),
    Rule("cymbal", ("cymbal", "cymbals", "cymbalcrash", "ridecymbal", "gong"), packages=("tuxpaint-stamps-default",
         "scratch", "qabcs-data")),
    Rule("tom drum", ("tomtom", "floortom")),
    Rule("hand percussion", ("tabla", "maracas", "shaker", "kongas", "bongo", "tambourine", "cuica", "changu"),
         deny_packages=("lmms-common",)),
    Rule("hand clapping", ("applause", "clap", "clapping", "handclap")),
    # --- speech-like human sounds ---
    Rule("laughter", ("laugh", "laughs", "laughing", "haha", "hahaha", "giggle", "evillaugh", "witches")),
    Rule("screaming", ("scream", "screaming", "screams", "wilhelmscream", "aaah", "shriek")),
    Rule("coughing", ("cough", "coughs", "sneeze", "poisoncough")),
    Rule("baby crying", ("babycry",)),
    Rule("groaning in pain", (
        "pain", "ouch", "ow", "ooff", "ugh", "groan", "moan", "poisonmoan", "injured", "hurt", "die", "death",
        "deadman", "dies", "painb", "argh",
    ), deny_tokens=CREATURES + ("horse", "wolf", "rabbit", "boss", "crate", "stone", "arrow", "metal", "shield",
                                "rubberduck", "boomerang",
                                "collide", "bullet", "laser", "ice", "chest", "tennis", "ko", "air", "knife", "tree",
                                "bhit", "phit", "obelisk", "jellyfish", "slime", "grave", "elf", "critdie",
                                "frozen", "hog", "fire", "flame", "firepunch", "melon", "mine", "grenade", "airmine",
                                "knife", "graveimpact", "lg", "heavy", "gib"),
         deny_packages=("hydrogen-*", "lmms-common", "sonic-pi-samples", "pekka-kana-2-data", "plee-the-bear-data",
                        "caveexpress-data", "brainparty-data", "searchandrescue-data")),
    Rule("groaning in pain", ("hit",), packages=("flare-game",), also=("male", "female")),
    Rule("groaning in pain", ("pain",), packages=("caveexpress-data",), also=("player",)),
    Rule("crowd cheering", ("crowd", "crowds", "cheer", "cheering", "cheeringloop", "boou", "boo", "partynoise",
                            "ravingcrowd", "stadium", "fondo", "sportscroud")),
    Rule("footsteps", ("footstep", "footsteps", "step", "steps", "concstep", "swimstep", "boot", "mansteps",
                       "walk", "stepcloth", "clank"),
         deny_tokens=CREATURES + ("elewalk", "cart", "horseman"), packages=("minetest-data", "ardentryst",
         "flare-game", "redeclipse-data", "berusky2-data", "lugaru-data", "openarena-data", "scratch",
         "crossfire-client", "btanks-data", "warmux-data", "caveexpress-data", "hedgewars-data", "triplea")),
    # --- animals ---
    Rule("dog barking", ("dog", "dogs", "bark", "barkgrowl", "dogmatix", "barking"), deny_tokens=("big",)),
    Rule("cat meowing", ("cat", "meow", "kitten", "blackcat")),
    Rule("cow mooing", ("cow", "cows", "moo", "bull", "bison", "calf", "yak", "ox", "cattle")),
    Rule("sheep bleating", ("sheep", "baa", "goat", "lamb", "ram", "mountaingoat", "sheeplamb")),
    Rule("pig oinking", ("pig", "pigs", "oink", "piggolden")),
    Rule("horse", ("horse", "horses", "foal", "donkey", "zebra", "gallop", "horsegallop", "canter", "galloping",
                   "neigh"), deny_tokens=("rocking", "rockinghorse", "horseman")),
    Rule("chicken clucking", ("chicken", "chickens", "rooster", "hen", "chick", "turkey", "quail", "pheasant",
                              "guineafowl", "cock")),
    Rule("duck quacking", ("duck", "drake", "gander", "goose", "quack", "quackquack"),
         deny_tokens=("rubber", "rubberduck"), deny_packages=("wesnoth-1.16-data",)),
    Rule("frog croaking", ("frog", "frogs", "croak", "toad"), deny_tokens=("music",)),
    Rule("wolf howling", ("wolf", "wolfhowl", "howl", "coyote", "werewolf"), deny_tokens=("ko",)),
    Rule("insects buzzing", ("bee", "bees", "hornet", "mosquito", "grasshopper", "cricket", "crickets", "cycadas",
                             "nightcrickets", "cicada", "cicadas", "fly", "ladybug", "beesting", "beewater", "moth",
                             "weevil"),
         deny_tokens=("ko", "eagle", "evil", "dragon", "airship", "orni", "beehive", "beewater"),
         deny_packages=("searchandrescue-data",)),
    Rule("bird song", (
        "bird", "birds", "birdchirp", "chirp", "twitter", "birdtwitter", "ptak", "racek", "gull", "gulls", "seagull",
        "seagulls", "cuckoo", "lark", "hawk", "eagle", "owl", "crow", "crows", "raven", "blackbird", "vulture",
        "penguin", "parrot", "sparrow", "stork", "heron", "pelican", "albatross", "flamingo", "emu", "nandou",
        "quetzal", "tucan", "iora", "booby", "woodpecker", "exotic", "eagleowl", "woodgrouse", "birdy",
    ), deny_tokens=("birdylay", "firebird", "carpet") + CREATURES),
    Rule("wild animal", (
        "lion", "tiger", "elephant", "gorilla", "chimp", "chimpanzee", "monkey", "littlemonkey", "bear", "whale",
        "orca", "dolphin", "sealion", "jaguar", "lynx", "hyena", "rhinoceros", "hippopotamus", "giraffe", "camel",
        "dromedary", "deer", "doe", "moose", "caribou", "fox", "koala", "giantpanda", "wombat", "wallaby", "boar",
        "stag",
    ), deny_tokens=("teddy",)),
    Rule("small animal squeaking", ("mouse", "rat", "krysa", "rabbit", "squirrel", "hamster", "beaver", "ferret",
                                    "badger", "chinchilla", "jerboa", "hedgehog", "raccoon", "otter", "porcupine",
                                    "bunny", "rabbitchitter"),
         deny_tokens=("click", "mouseclick")),
    # --- weather and water ---
    Rule("thunder", ("thunder", "hrom", "lightning", "lightningbolt", "stormbolts", "strom", "thunderfaint"),
         deny_packages=("openarena-data", "flare-game", "crossfire-client", "wesnoth-1.16-data")),
    Rule("rain", ("rain", "stormrain", "rainloop")),
    Rule("wind", ("wind", "winds", "*wind", "windgust", "vitr", "windloop", "cavewind"),
         deny_tokens=("wvulwind", "window", "windmill", "painwind", "rewind", "windowclose", "windowopen")),
    Rule("flowing water", ("river", "creek", "stream", "waterfall", "waterfall*", "fountain", "waves", "oceanwaves",
                           "waterrunning", "riverloop", "water", "voda", "harbor", "ripples", "lake", "parklandlake"),
         deny_tokens=("footstep", "impact", "splash", "drop", "rising", "leave", "in", "out", "un", "beewater",
                      "planewater", "rubberduck", "waterdrop", "cave", "blast")),
    Rule("water splashing", ("splash", "splashin", "splashout", "splosh", "drip", "drips", "droplet", "droplets",
                             "drops", "waterdrop", "bubble", "bubbles", "bubl", "bubliny", "zblunk", "plop", "plopp",
                             "gurgle", "gurp", "underwater", "drown", "watr", "plunge", "dripdrop", "cavedrip",
                             "splatter", "kap", "sink", "planewater", "beewater"),
         deny_tokens=("music",)),
    Rule("fire crackling", ("fire", "campfire", "burning", "embers", "openfire", "firesoft", "burnfire", "flame",
                            "wickerfire", "firestation"),
         deny_tokens=("spell", "fireball", "firepunch", "firetruck", "flamethrower", "flmthrow", "truck", "arrow",
                      "firearrowhit", "extinguish", "slime", "friendly", "fadeout", "gun", "sci", "magic", "bow",
                      "crossbow", "melee", "whoosh", "flamewhoosh", "firestation", "flint", "big"),
         deny_packages=("warmux-data", "hedgewars-data", "scorched3d-data")),
    Rule("fire crackling", ("embers", "flame"), packages=("warmux-data",)),
    # --- household, tools, machines ---
    Rule("keyboard typing", ("typing", "typewriter", "keyclick")),
    Rule("door", ("door", "doors", "doorclose", "doorcreak", "creak", "creaky", "dvere", "dvereotevrit", "chest",
                  "fencegate", "gate"),
         deny_tokens=("bell", "doorbell", "hit", "chestbeat", "hitchest"), deny_packages=("triplea",)),
    Rule("glass breaking", ("glass", "glasses", "glassbreak", "shatter", "kling", "bottle", "breakglass"),
         deny_tokens=("footstep", "water", "waterglass", "magnifying", "hum", "rub")),
    Rule("hammering", ("hammer", "hammering", "anvil", "smith", "blacksmith", "clank", "clang", "metalclang",
                       "metalhit", "mallet", "malletmetal", "metal", "weld", "construct", "pickhammer"),
         deny_tokens=("footstep", "step", "inventory", "skid", "crash", "shutdown", "airhammer", "door"),
         deny_packages=("scratch",)),
    Rule("power tool", ("saw", "sawing", "buzzsaw", "sawmill", "chainsaw", "jackhammer", "drill", "drillgun",
                        "vacuum", "vacuumcleaner", "washing", "washingmachine", "kettle", "sewingmachine",
                        "airhammer", "blowtorch"),
         deny_tokens=("seesaw",)),
    Rule("machinery", ("machine", "machines", "machinery", "machinerydrone", "factory", "factoryloop", "industry",
                       "industrial", "mill", "windmill", "coalmine", "oremine", "mine", "furnace", "pump",
                       "oilpump", "pottery", "pneumatic", "elevator", "vytah", "fan", "furnaceactive", "powerhum",
                       "machinesound", "industryhigh", "industrylight"),
         deny_tokens=("tick", "minetick", "mineimpact", "beep", "explode", "sewing", "washing", "washingmachine",
                      "airmine", "sawmill", "drum", "drummachine", "time", "bell", "gun", "machinegun"),
         packages=("lincity-ng-data", "redeclipse-data", "openarena-data", "scorched3d-data", "supertuxkart-data",
                   "minetest-data", "warzone2100-data", "berusky2-data", "triplea", "btanks-data", "sonic-pi-samples")),
    Rule("clock ticking", ("clock", "tick", "tock", "ticking", "watch", "towerclock", "metronome"),
         deny_tokens=("mine", "minetick", "old", "stopwatch", "pocketwatch"),
         deny_packages=("plee-the-bear-data",)),
    Rule("coins jingling", ("coin", "coins", "cash", "money", "gold", "till", "inventorycoins", "perctill")),
    Rule("paper rustling", ("paper", "page", "book", "card", "cardflip", "tear", "ripped", "newspaper", "inventorypage",
                            "inventorybook")),
    Rule("digging", ("dig", "dug", "digging", "gravel", "dirt", "shovel", "gravelfootstep"),
         deny_tokens=("footstep", "bullet", "dirttrack")),
    Rule("camera shutter", ("camera", "shutter", "shutterclick", "cameralens", "screenshot")),
    # --- vehicles ---
    Rule("car horn", ("carhorn", "honk", "honkhonk", "klaxon", "claxon", "horn"), deny_packages=(
         "wesnoth-1.16-data", "qabcs-data", "triplea"), deny_tokens=("boat", "boathorn", "ship")),
    Rule("siren", ("siren", "sirens", "policecar", "firetruck", "police", "airraid", "alarm"), packages=(
         "scorched3d-data", "micropolis-data", "tuxpaint-stamps-default", "triplea"), deny_tokens=("sub", "diving")),
    Rule("alarm beeping", ("alarm", "beeping"), packages=("lugaru-data", "redeclipse-data")),
    Rule("telephone ringing", ("phone", "telephone", "ringing"), packages=("sonic-pi-samples",)),
    Rule("bell ringing", ("bell", "bells", "belltoll", "gong", "chapel", "ding", "dong", "zvon", "chime", "chimes",
                          "windchimes", "doorbell", "percbell", "towerclock"),
         deny_tokens=("ride", "ridebell", "cow", "cowbell", "elec", "bellchoir", "checkpoint"),
         deny_packages=("hydrogen-*", "chuck-data")),
    Rule("tyre skid", ("skid", "skids", "screech", "brake", "skidtyres", "skidmetal", "snowskid", "wheelscreech",
                       "airbrake"), deny_tokens=("ski",)),
    Rule("train", ("train", "locomotive", "steamlocomotive", "railtrain", "rail", "railway", "crossing", "steam"),
         deny_tokens=("trainer", "strain"),
         deny_packages=("hedgewars-data", "warzone2100-data"), packages=("btanks-data", "supertuxkart-data",
         "lincity-ng-data", "simutrans-pak64", "libreoffice-common", "qabcs-data", "micropolis-data")),
    Rule("helicopter", ("helicopter", "chopper", "apache", "quadrocopter", "heli")),
    Rule("airplane", ("airplane", "plane", "planes", "jet", "jetplane", "jetengine", "cessna", "biplane", "flyby",
                      "aircraft", "airport", "planelow", "cometjet", "aeroplane", "airflyby", "aircraftflying"),
         deny_tokens=("parkland", "parklandplane", "paper", "paperairplane", "rcplane", "planewater", "laser",
                      "airship", "bomb", "bombs", "falling", "crashing"),
         deny_packages=("lincity-ng-data",)),
    # Scorched3d names its jet recordings after the aircraft: f16, f18, t38.
    Rule("airplane", ("f", "t"), packages=("scorched3d-data",), also=("f", "t")),
    Rule("car engine", ("engine", "car", "cars", "auto", "accel", "revup", "carpassing", "bus", "truck", "diesel",
                        "motorcycle", "motorcyclepassing", "traffic", "heavytraffic", "distantcars", "ignition",
                        "vehicle", "turbo", "backfire", "roadride", "gearchange", "gear", "motor", "enginesmall",
                        "enginelarge", "tractor", "excavator", "bulldozer", "tankmove", "tread", "trafic",
                        "traffic", "traficlow", "trafichigh"),
         deny_tokens=("jet", "helicopter", "spaceship", "explosion", "carpet", "carts", "cart", "cartridge",
                      "failure", "powerup", "hovmove", "hovstart", "hovstop", "vtol", "crash", "up", "down",
                      "shutdown", "inside", "start", "outside", "old", "flap", "brake", "skid", "wheel", "beam",
                      "rocket", "flying"),
         deny_packages=("searchandrescue-data",)),
    # Torcs' engine loops are named after the car: every file of its sound folder that is not a crash or a skid.
    Rule("car engine", ("*",), packages=("torcs-data",), deny_tokens=(
         "crash", "crash*", "skid", "skid*", "boom", "locked", "axle", "out", "bottom", "road", "gear", "clkdtmb")),
    # --- combat and impacts ---
    Rule("gunshot", ("gun", "gunshot", "gunfire", "pistol", "rifle", "shotgun", "shotgunfire", "minigun",
                     "machinegun", "machgf", "vulcanf", "mgbar", "asltmg", "mgheavy", "mgtower", "musket",
                     "musketvolley", "sshotf", "wvulfire", "machinegunner", "gunshots"),
         deny_tokens=("sci", "laser", "lasershot", "portalshot", "ropeshot", "landgun", "sinegun", "drillgun",
                      "shotgunreload", "reload", "cartridge", "bullet", "magic", "lockon"),
         deny_packages=("etw-data", "flare-game")),
    Rule("gunshot", ("m",), packages=("warmux-data",), deny_tokens=("cartridge",)),
    Rule("cannon fire", ("cannon", "cannons", "artillery", "bombard", "mortar", "lrgcan", "medcan", "smlcan",
                         "rapdcan", "hivelcan", "battleshipvolley", "howitzer", "hwtzflgt")),
    Rule("explosion", ("explosion", "explosions", "explode", "exploze", "explos", "explot", "boom", "blast",
                       "bomb", "nuke", "nukeexplosion", "grenade", "dynamite", "tnt", "fireworks", "firecracker",
                       "lrgexpl", "smlexpl", "atnkexpl", "mpodexpl", "napalm", "kamexplode", "rocklx", "wstbexpl",
                       "bombdrop", "softboom", "fireworksshow", "implosion", "explodes"),
         deny_tokens=("laser", "lsrexpl", "nxsexpld", "boomerang", "bubblegum", "hit", "fuze", "ignite",
                      "gunpowder", "bounce", "riot", "ring", "cineboom", "shoot", "flare", "launch", "tracer",
                      "laserdeath", "burning", "falling", "missile", "water", "waterblast"),
         deny_packages=("triplea",)),
    # Scorched3d's explosion folders name files by size.
    Rule("explosion", ("large", "medium", "small", "xlarge", "exp", "tank"), packages=("scorched3d-data",),
         also=("explosions",), where="path"),
    Rule("sword fight", ("sword", "swords", "swordslice", "swordstaff", "knife", "knifeslice", "knifeswish",
                         "knifedraw", "blade", "dagger", "daggerswish", "mace", "flail", "saber", "axe", "hatchet",
                         "club", "spear", "meleeattack", "staff", "swordfighting", "claws", "clawslice", "slice",
                         "cut", "hitslice", "fleshstab", "swordfight"),
         deny_tokens=("miss", "throw", "thrower", "swish", "woodcutting", "treecutting", "tree", "sheathe", "impact",
                      "swing", "whoosh", "spearman", "staffbody", "staffhead", "staffbreak", "stone")),
    Rule("bow and arrow", ("bow", "crossbow", "arrow", "arrows", "sling", "arrowhit", "archer"),
         deny_tokens=("boomerang", "rainbow", "elbow", "magicbow", "firearrowhit", "fire", "ack", "select", "die"),
         also=("bow", "crossbow", "arrow", "arrows", "sling", "arrowhit", "attack", "fire", "miss")),
    Rule("whoosh", ("whoosh", "woosh", "swish", "swoosh", "swing", "whiff", "throw", "swooshlong", "weaponswing",
                    "highwhoosh", "lowwhoosh", "midwhoosh", "movewhoosh", "teeswing", "miss", "daggerswish",
                    "knifeswish", "percswoosh", "ambiswoosh", "whip", "whipcrack", "flamewhoosh"),
         deny_tokens=("firepunch", "fire", "release", "powerup", "throwpowerup", "throwrelease", "missed",
                      "fstrun", "aa", "missile", "missle", "whooshhit", "dark", "lasfly", "magic", "ink", "squishy",
                      "thunderstick", "dragonstick", "wose", "tusker", "torch")),
    Rule("punch", ("punch", "fist", "slap", "thud", "thwack", "whack", "squish", "bodyslam", "heavyimpact",
                   "whooshhit", "staffbody", "staffhead", "phit", "fstatck", "bump", "hitchest", "chestbeat",
                   "firepunchhit", "baseballbat", "land", "landed"),
         deny_tokens=CREATURES + ("fire", "firepunch", "bullet", "belly", "ski", "wheel", "landing", "landgun",
                                  "stone", "crate", "ice", "frozen", "checkpoint", "flap", "gear", "teleport"),
         packages=("redeclipse-data", "wesnoth-1.16-data", "crossfire-client", "searchandrescue-data",
                   "lugaru-data", "hedgewars-data", "warmux-data", "plee-the-bear-data", "openarena-data",
                   "brainparty-data", "ardentryst", "warzone2100-data")),
    Rule("punch", ("hit",), packages=("plee-the-bear-data",)),
    Rule("crash", ("crash", "crashes", "collision", "debris", "rumble", "break", "broken", "crate", "cratehit",
                   "bedna", "falling", "fallingrocks", "bldfall", "boxfalling", "boxhittingground", "bottomcrash",
                   "crashground", "crashobstruction", "metalcrash", "cavein", "woodbrk", "quake", "earthquake",
                   "stonehit", "woodhit", "rock", "stone", "treefalling", "collide"),
         deny_tokens=("glass", "breakglass", "tool", "toolbreaks", "lavarumble", "cymbal", "crashloop", "rumbledrone",
                      "bomb", "bombs", "staffbreak", "breath", "open", "stoneopen", "ice", "strike", "plane",
                      "collect", "collectcrate"),
         deny_packages=("hydrogen-*", "lmms-common", "scratch", "sonic-pi-samples", "chuck-data", "triplea",
                        "openarena-data")),
)

# Classes that every token rule may produce besides speech.
RULE_LABELS = tuple(dict.fromkeys(r.label for r in RULES))


# ---- the classifier --------------------------------------------------------------------------

DRUM_PACKAGES = ("lmms-common", "sonic-pi-samples", "chuck-data")


def classify(package: str, path: str, package_root: Path | None = None) -> Assignment | Skip:
    """The class of one file, from its package and its path inside the package (see the module doc)."""
    require_not_reserved(package)
    reason = excluded(package, path)
    if reason:
        return Skip(reason)
    for source in SPEECH_SOURCES:
        found = source.match(package, path)
        if found is not None:
            return found
    if package.startswith("hydrogen-") and "/drumkits/" in path:
        return hydrogen_label(package_root, path)
    if package.startswith("fretsonfire-songs-") and path.endswith("/guitar.ogg"):
        return Assignment("electric guitar", reason="frets on fire lead guitar stem")
    if package == "plee-the-bear-data" and "/sequencer/" in path:
        return Skip("plee-the-bear sequencer stems (unlabelled instruments)")
    music = music_label(package, path)
    if music is not None:
        return music
    if package == "megaglest-data":
        found = megaglest_label(path)
        if found is not None:
            return found
    if package in DRUM_PACKAGES and ("/drums/" in path or "/beats/" in path or "/samples/drum_" in path
                                     or "/samples/tabla_" in path or "/audio/" in path or "/examples/data/" in path
                                     or "/samples/loop_" in path):
        label = drum_label(Path(path).stem)
        if label is not None:
            return Assignment(label, reason="drum sample name")
    for rule in RULES:
        found = rule.match(package, path)
        if found is not None:
            return found
    return Skip("no rule matched")

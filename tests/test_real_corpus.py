"""Tests of the real-recordings corpus: the path rules, the committed manifest and its splits, the
reserved packages, realistic mixing, rendering from a manifest, packing and the attribution file.

None of them needs the Debian packages the corpus is read from (CI has none of them): the rules
are tested on paths, the manifest is the committed one, rendering runs on a small package tree
the tests write themselves.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile
import tomllib

from training.corpus import SourcePool
from training.corpus.attribution import ATTRIBUTION_PATH
from training.corpus.classes import ALL_CLASSES, CLASSES, REAL_CLASSES, conflicting
from training.corpus.mixing import CLEAN, REALISTIC, MixtureSampler, Realism
from training.corpus.packages import (
    RESERVED,
    TRAINING_PACKAGES,
    ReservedPackageError,
    fetch,
    is_reserved,
    package_dir,
)
from training.corpus.packing import pack_pools
from training.corpus.real import Assignment, Skip, classify
from training.corpus.real_manifest import Entry, group_key, read_manifest
from training.corpus.realpool import build_real_pool

REPO = Path(__file__).resolve().parents[1]
RATE = 16_000
SEGMENT = 2 * RATE
RESERVED_EXAMPLES = (
    "asterisk-core-sounds-en-wav", "asterisk-moh-opsound-wav", "asterisk-prompt-fr-armelle",
    "sound-theme-freedesktop", "fluid-soundfont-gm", "fluid-soundfont-gs", "openttd-opensfx",
    "gcompris-qt-data", "widelands-data", "kajongg", "ktuberling-data",
)


@pytest.fixture(scope="module")
def manifest() -> list[Entry]:
    return read_manifest()


# ---- path rules ----------------------------------------------------------------------------------

PATHS = [
    # (package, path inside the package, expected class or None for "not used")
    ("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps/animals/mammals/cow.ogg", "cow mooing"),
    ("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps/animals/birds/seagull.ogg", "bird song"),
    ("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps/hobbies/violin.ogg", "violin"),
    ("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps/household/vacuum_cleaner.ogg", "power tool"),
    ("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps/animals/mammals/dogs/dog.ogg", "dog barking"),
    ("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps/animals/mammals/cow_desc_ro.ogg", "speech"),
    ("minetest-data", "usr/share/games/minetest/games/minetest_game/mods/default/sounds/default_gravel_footstep.1.ogg",
     "footsteps"),
    ("minetest-data", "usr/share/games/minetest/games/minetest_game/mods/doors/sounds/doors_door_open.ogg", "door"),
    ("minetest-data", "usr/share/games/minetest/games/minetest_game/mods/fire/sounds/fire_fire.1.ogg",
     "fire crackling"),
    ("lugaru-data", "usr/share/games/lugaru/Sounds/FootStepGrass1.ogg", "footsteps"),
    ("lugaru-data", "usr/share/games/lugaru/Sounds/Bark2.ogg", "dog barking"),
    ("scratch", "usr/share/scratch/Media/Sounds/Human/Cough-female.wav", "coughing"),
    ("scratch", "usr/share/scratch/Media/Sounds/Human/Laugh-male1.wav", "laughter"),
    ("scratch", "usr/share/scratch/Media/Sounds/Electronic/Laser1.wav", None),
    ("etw-data", "usr/share/games/etw/crowd/crowd07.wav", "crowd cheering"),
    ("bucklespring-data", "usr/share/bucklespring/wav/1e-0.wav", "keyboard typing"),
    ("scorched3d-data", "usr/share/games/scorched3d/data/globalmods/apoc/data/wav/misc/carhorn3.wav", "car horn"),
    ("scorched3d-data", "usr/share/games/scorched3d/data/globalmods/none/data/wav/misc/f16_1.wav", "airplane"),
    ("searchandrescue-data", "usr/share/games/searchandrescue/sounds/helicopter_engine_outside.wav", "helicopter"),
    ("redeclipse-data", "usr/share/games/redeclipse/data/sounds/ambience/waterfall_huge.ogg", "flowing water"),
    ("redeclipse-data", "usr/share/games/redeclipse/data/sounds/ambience/hollowwind.ogg", "wind"),
    ("redeclipse-data", "usr/share/games/redeclipse/data/sounds/music/track_03.ogg", "music"),
    ("berusky2-data", "usr/share/games/berusky2/sound/sound/Exploze3.wav", "explosion"),
    ("berusky2-data", "usr/share/games/berusky2/sound/sound/Hrom2.wav", "thunder"),
    ("megaglest-data", "usr/share/games/megaglest/techs/megapack/commondata/sounds/swordman_attack7.wav",
     "sword fight"),
    ("megaglest-data", "usr/share/games/megaglest/techs/megapack/commondata/sounds/archer_ack3.wav", None),
    ("megaglest-data", "usr/share/games/megaglest/techs/megapack/factions/norsemen/units/cow/sounds/cow_die2.wav",
     "cow mooing"),
    ("hydrogen-drumkits", "usr/share/hydrogen/data/drumkits/GMRockKit/Snare-Soft.wav", "snare drum"),
    ("hydrogen-data", "usr/share/hydrogen/data/drumkits/GMRockKit/Kick-Hard.wav", "kick drum"),
    ("hydrogen-data", "usr/share/hydrogen/data/drumkits/GMRockKit/HatOpen-Med.wav", "hi-hat"),
    ("hydrogen-data", "usr/share/hydrogen/data/drumkits/GMRockKit/Bell-Soft.wav", "cymbal"),  # a ride bell
    ("hydrogen-data", "usr/share/hydrogen/data/drumkits/TR808EmulationKit/808_Clap.flac", None),  # electronic
    ("hydrogen-drumkits-effects", "usr/share/hydrogen/data/drumkits/belofilms_GuitarStrums/Eminor_UP_03.flac",
     "acoustic guitar"),
    ("sonic-pi-samples", "usr/share/sonic-pi/samples/tabla_ghe3.flac", "hand percussion"),
    ("sonic-pi-samples", "usr/share/sonic-pi/samples/elec_snare.flac", None),
    ("lmms-common", "usr/share/lmms/samples/instruments/church_organ02.ogg", "church organ"),
    ("lmms-common", "usr/share/lmms/samples/waveforms/10saw.flac", None),
    ("fretsonfire-songs-sectoid", "usr/share/games/fretsonfire/data/songs/sectoid/Feelings/guitar.ogg",
     "electric guitar"),
    ("fretsonfire-songs-sectoid", "usr/share/games/fretsonfire/data/songs/sectoid/Feelings/song.ogg", "music"),
    ("warzone2100-data", "usr/share/games/warzone2100/base.wz!audio/sfx/weapons/mgbar2.ogg", "gunshot"),
    ("warzone2100-data", "usr/share/games/warzone2100/base.wz!audio/tutorial/tut12.ogg", "speech"),
    ("wesnoth-1.16-data", "usr/share/games/wesnoth/1.16/data/core/sounds/horn-signals/horn-3.ogg", "horn blowing"),
    ("wesnoth-1.16-data", "usr/share/games/wesnoth/1.16/sounds/button.wav", None),  # interface sound
    # Text-to-speech, vocoded voices and doubtful licences are never used.
    ("qabcs-data", "usr/share/qabcs/abcs/en/sounds/words/apple.ogg", None),
    ("openarena-data", "usr/share/games/openarena/missionpack/mp-pak0.pk3!sound/voices/festivoxmale/yes.ogg", None),
    ("hedgewars-data", "usr/share/games/hedgewars/Data/Sounds/voices/Robot/Hello.ogg", None),
    ("wims-help", "usr/share/wims/help/Eminem.mp3", None),
]


@pytest.mark.parametrize(("package", "path", "expected"), PATHS, ids=[p[1].rsplit("/", 1)[-1] for p in PATHS])
def test_path_rules_give_each_survey_path_its_class(package, path, expected):
    found = classify(package, path)
    if expected is None:
        assert isinstance(found, Skip), found
    else:
        assert isinstance(found, Assignment) and found.label == expected, found


FALSE_FRIENDS = [
    # "lamborghini" is not a lamb, "antlion" not a lion, "ParklandPlane" not a plane, "belly" not a bell.
    ("torcs-data", "usr/share/games/torcs/data/sound/lamborghinidiablo.wav", "sheep bleating", "car engine"),
    ("flare-game", "usr/share/games/flare/mods/fantasycore/soundfx/enemies/antlion_die.ogg", "wild animal", None),
    ("lincity-ng-data", "usr/share/games/lincity-ng/sounds/ParklandPlane2.wav", "airplane", None),
    ("searchandrescue-data", "usr/share/games/searchandrescue/sounds/land_belly.wav", "bell ringing", None),
]


@pytest.mark.parametrize(("package", "path", "wrong", "right"), FALSE_FRIENDS,
                         ids=["lamborghini", "antlion", "ParklandPlane", "belly"])
def test_false_friends_do_not_get_the_class_their_name_suggests(package, path, wrong, right):
    found = classify(package, path)
    label = found.label if isinstance(found, Assignment) else None
    assert label != wrong
    assert label == right


def test_speech_knows_its_speaker_and_language():
    found = classify("fillets-ng-data-nl", "usr/share/games/fillets-ng/sound/city/nl/vit-m-hlava.ogg")
    assert (found.label, found.speaker, found.language, found.tier) == ("speech", "fillets-ng-data-nl/m", "nl", "A")
    found = classify("klettres-data", "usr/share/klettres/pt_BR/syllab/ba.ogg")
    assert (found.speaker, found.language) == ("klettres-data/pt_BR", "pt_BR")
    found = classify("hedgewars-data", "usr/share/games/hedgewars/Data/Sounds/voices/Default_uk/Hello.ogg")
    assert (found.speaker, found.language, found.tier) == ("hedgewars-data/Default_uk", "uk", "B")


# ---- reserved packages ---------------------------------------------------------------------------

@pytest.mark.parametrize("package", RESERVED_EXAMPLES)
def test_reserved_packages_are_refused_by_the_classifier_and_the_fetcher(package, tmp_path):
    assert is_reserved(package)
    with pytest.raises(ReservedPackageError, match="reserved for independent evaluation"):
        classify(package, "usr/share/sounds/anything.wav")
    with pytest.raises(ReservedPackageError):
        package_dir(tmp_path, package)
    with pytest.raises(ReservedPackageError):  # refused before apt-get is ever run
        fetch(tmp_path, (package,))


def test_training_packages_hold_no_reserved_package_and_make_test_installs_none_of_them():
    assert not [p for p in TRAINING_PACKAGES if is_reserved(p)]
    assert "asterisk-*" in RESERVED
    makefile = (REPO / "Makefile").read_text()
    system_packages = re.search(r"SYSTEM_PACKAGES :=(.*?)\n(?!\s)", makefile, re.DOTALL).group(1).split()
    assert not set(system_packages) & set(TRAINING_PACKAGES)
    assert re.search(r"^train:.*\bcorpus-packages\b", makefile, re.MULTILINE)
    assert re.search(r"^corpus-packages:", makefile, re.MULTILINE)
    assert not re.search(r"^test:.*\bcorpus-packages\b", makefile, re.MULTILINE)


def test_building_a_pool_from_a_reserved_package_is_refused(tmp_path):
    entry = Entry("kajongg", "1", "usr/share/kajongg/voices/male1/east.ogg", "0" * 32, 1.0, 44100, 1, "speech", "A",
                  "kajongg/male1", "en", "kajongg/male1", "train", "GPL-2+")
    with pytest.raises(ReservedPackageError):
        build_real_pool(tmp_path, "train", 1, debs=tmp_path, entries=[entry], labels=("speech",), progress=False)


# ---- the committed manifest ----------------------------------------------------------------------

def test_manifest_has_at_least_fifty_classes_each_with_a_label_and_captions(manifest):
    labels = {e.label for e in manifest}
    assert len(labels) >= 50
    by_label = {c.label: c for c in ALL_CLASSES}
    assert labels <= set(by_label)
    for label in labels:
        sound_class = by_label[label]
        assert len(sound_class.captions) >= 8 and len(sound_class.heldout_captions) >= 4, label
        assert not set(sound_class.captions) & set(sound_class.heldout_captions), label
    every_caption = [c for s in ALL_CLASSES for c in (s.label, *s.captions, *s.heldout_captions)]
    assert len(every_caption) == len(set(every_caption)), "a caption may not name two classes"
    assert [c.label for c in ALL_CLASSES[: len(CLASSES)]] == [c.label for c in CLASSES]
    assert len(ALL_CLASSES) == len(CLASSES) + len(REAL_CLASSES)


def test_manifest_holds_no_reserved_package_and_no_excluded_source(manifest):
    assert not [e for e in manifest if is_reserved(e.package)]
    assert not [e for e in manifest if e.package == "wims-help"]
    assert not [e for e in manifest if e.package == "qabcs-data" and "/noises/" not in e.path]
    assert not [e for e in manifest if "festivoxmale" in e.path or "/voices/Robot/" in e.path]


def test_no_file_is_in_two_splits_and_no_recording_is_listed_twice(manifest):
    assert {e.split for e in manifest} == {"train", "valid", "test"}
    keys = [(e.package, e.path) for e in manifest]
    assert len(keys) == len(set(keys))
    assert len({e.md5 for e in manifest}) == len(manifest)


def test_no_speaker_crosses_splits(manifest):
    splits = defaultdict(set)
    for entry in manifest:
        if entry.label == "speech":
            assert entry.speaker.startswith(entry.package + "/") and entry.language, entry
            splits[entry.speaker].add(entry.split)
    assert len(splits) >= 50
    assert not {s: v for s, v in splits.items() if len(v) > 1}


def test_no_source_group_crosses_splits_within_a_class(manifest):
    splits = defaultdict(set)
    for entry in manifest:
        splits[(entry.label, entry.group)].add(entry.split)
    assert not {k: v for k, v in splits.items() if len(v) > 1}
    takes = ("a/swordman_attack12.wav", "a/swordman_attack3.wav")
    assert group_key("megaglest-data", takes[0]) == group_key("megaglest-data", takes[1])
    assert group_key("hydrogen-data", "k/Snare-Soft.wav") == group_key("hydrogen-data", "k/Snare-Hard.wav")
    assert group_key("hydrogen-data", "k/Snare-Soft.wav") != group_key("hydrogen-data", "k/Kick-Soft.wav")


def test_speech_of_many_languages_and_speakers_is_in_every_split(manifest):
    for split in ("train", "valid", "test"):
        speech = [e for e in manifest if e.label == "speech" and e.split == split]
        assert len({e.language for e in speech}) >= 5, split
        assert len({e.speaker for e in speech}) >= 5, split
        assert sum(e.seconds for e in speech) > 20 * 60, split
    assert {e.tier for e in manifest} == {"A", "B"}


def test_every_manifest_file_records_its_licence_duration_and_rate(manifest):
    for entry in manifest:
        assert entry.licence and entry.version and len(entry.md5) == 32, entry
        assert entry.seconds >= 0.05 and 4000 <= entry.sample_rate <= 96_000, entry


# ---- realistic mixing ----------------------------------------------------------------------------

POOL_LABELS = ("speech", "music", "piano", "drums", "snare drum", "dog barking", "rain", "thunder", "siren",
               "car engine", "bird song", "chicken clucking")


def fake_real_pool(clips_per_class: int = 3) -> SourcePool:
    """A pool of the real corpus's class list, a few classes filled with noise bursts and tones."""
    rng = np.random.default_rng(0)
    labels = [c.label for c in ALL_CLASSES]
    clips: list[list[np.ndarray]] = [[] for _ in ALL_CLASSES]
    for n, label in enumerate(POOL_LABELS):
        for _ in range(clips_per_class):
            length = int(rng.uniform(1.0, 4.0) * RATE)
            time = np.arange(length) / RATE
            tremolo = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1, 4) * time)
            tone = np.sin(2 * np.pi * (200 + 150 * n) * time) * tremolo
            audio = 0.3 * tone + 0.1 * rng.standard_normal(length)
            clips[labels.index(label)].append((audio * 20_000).astype(np.int16))
    return SourcePool(Path("fake"), RATE, clips, ALL_CLASSES, "real")


@pytest.fixture(scope="module")
def real_pool():
    return fake_real_pool()


def test_real_pools_mix_realistically_and_synthetic_pools_as_before(real_pool):
    assert MixtureSampler(real_pool, SEGMENT, seed=0).realism == REALISTIC
    synthetic = SourcePool(Path("fake"), RATE, [list(c) for c in real_pool.clips[: len(CLASSES)]], CLASSES)
    assert MixtureSampler(synthetic, SEGMENT, seed=0).realism is None


def test_realistic_sampler_replays_the_same_batches_from_the_same_seed(real_pool):
    first, second, other = (MixtureSampler(real_pool, SEGMENT, seed=s) for s in (5, 5, 6))
    for _ in range(3):
        batch, again, different = first.sample(8), second.sample(8), other.sample(8)
        for a, b in zip(batch, again):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(batch[0], different[0])


def test_zero_target_items_come_at_the_requested_share_with_silent_targets(real_pool):
    sampler = MixtureSampler(real_pool, SEGMENT, seed=1, realism=Realism(absent_share=0.15))
    mixtures, targets, classes = zip(*(sampler.sample(100) for _ in range(16)))
    mixtures, targets, classes = np.concatenate(mixtures), np.concatenate(targets), np.concatenate(classes)
    silent = np.all(targets == 0, axis=1)
    assert abs(silent.mean() - 0.15) < 0.03
    assert np.all(np.sqrt(np.mean(mixtures[silent] ** 2, axis=1)) > 1e-4), "a zero-target mixture still sounds"
    assert set(classes[silent]) <= {c for c, count in enumerate(real_pool.clip_counts) if count}
    for _ in range(50):  # the absent class is never one that something sounding would contain
        example = sampler._draw_realistic(sampler.classes[0], absent=True)
        assert example.absent and not np.any(example.target)
        query = ALL_CLASSES[example.class_index].label
        assert not any(conflicting(query, ALL_CLASSES[c].label) for c in example.interferer_classes)


def test_interferers_sit_between_minus_ten_and_plus_ten_db_of_the_target(real_pool):
    sampler = MixtureSampler(real_pool, SEGMENT, seed=2, realism=CLEAN)
    for _ in range(200):
        example = sampler.draw(int(sampler.rng.choice(sampler.classes)))
        assert 1 <= len(example.interferer_classes) <= 3
        assert all(-10.0 <= level <= 10.0 for level in example.levels_db)
    single = MixtureSampler(real_pool, SEGMENT, seed=3, interferers=(1, 1), realism=CLEAN)
    for _ in range(50):
        example = single.draw(int(single.rng.choice(single.classes)))
        snr = 20 * np.log10(np.sqrt(np.mean(example.interference**2)) / np.sqrt(np.mean(example.target**2)))
        assert snr == pytest.approx(example.levels_db[0], abs=0.05)


def test_interferers_and_beds_never_conflict_with_the_target(real_pool):
    sampler = MixtureSampler(real_pool, SEGMENT, seed=4, realism=Realism(music_bed_share=1.0))
    labels = [c.label for c in ALL_CLASSES]
    speech_with_music = 0
    for _ in range(300):
        example = sampler.draw(int(sampler.rng.choice(sampler.classes)))
        target = labels[example.class_index]
        others = [labels[c] for c in example.interferer_classes]
        assert not any(conflicting(target, other) for other in others), (target, others)
        if target == "speech":
            speech_with_music += "music" in others
            assert "music" in others, "every speech target gets its music bed at music_bed_share=1"
    assert speech_with_music > 0
    assert conflicting("music", "piano") and conflicting("drums", "snare drum") and conflicting("rain", "thunder")
    assert not conflicting("speech", "music") and not conflicting("piano", "dog barking")


def test_telephone_items_have_no_energy_above_3_4_khz(real_pool):
    sampler = MixtureSampler(real_pool, SEGMENT, seed=5, realism=Realism(
        absent_share=0.0, telephone_share=1.0, equaliser_share=0.0, compression_share=0.0, noise_share=1.0,
        clipping_share=0.0))
    frequencies = np.fft.rfftfreq(SEGMENT, 1 / RATE)
    for _ in range(20):
        example = sampler.draw(int(sampler.rng.choice(sampler.classes)))
        assert "telephone" in example.effects
        for audio in (example.mixture, example.target):
            power = np.abs(np.fft.rfft(audio)) ** 2
            assert power[frequencies > 3400].sum() < 1e-4 * power.sum()
            assert power[frequencies < 100].sum() < 1e-2 * power.sum()


def test_every_channel_effect_keeps_mixture_equal_to_target_plus_interference(real_pool):
    everything = Realism(equaliser_share=1.0, telephone_share=0.5, compression_share=1.0, noise_share=1.0,
                         clipping_share=1.0)
    sampler = MixtureSampler(real_pool, SEGMENT, seed=6, realism=everything)
    mixture, target, classes = sampler.sample(32)
    assert mixture.shape == target.shape == (32, SEGMENT) and mixture.dtype == np.float32
    assert classes.dtype == np.int64 and np.max(np.abs(mixture)) <= 1.0
    for _ in range(20):
        example = sampler.draw(int(sampler.rng.choice(sampler.classes)))
        assert {"equaliser", "compression", "noise", "clipping"} <= set(example.effects)
        np.testing.assert_allclose(example.mixture, example.target + example.interference, atol=1e-6)


# ---- rendering from a manifest, packing, attribution ----------------------------------------------

def write_fake_package(debs: Path) -> list[Entry]:
    """A package tree of a few short recordings and the manifest entries that list them."""
    rng = np.random.default_rng(7)
    entries = []
    for label, names, seconds in (("dog barking", ("bark1.wav", "bark2.wav", "growl.wav"), 0.4),
                                  ("rain", ("rain_loop.wav",), 5.0)):
        for name in names:
            path = f"usr/share/fake/{name}"
            audio = (0.2 * rng.standard_normal(int(seconds * 22050))).astype(np.float32)
            (debs / "fake-sounds" / path).parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(debs / "fake-sounds" / path, audio, 22050, subtype="PCM_16")
            md5 = hashlib.md5((debs / "fake-sounds" / path).read_bytes()).hexdigest()
            entries.append(Entry("fake-sounds", "1.0", path, md5, seconds, 22050, 1, label, "A", "", "",
                                 group_key("fake-sounds", path), "train", "CC0-1.0"))
    return entries


def test_real_pool_renders_from_the_manifest_reproducibly(tmp_path):
    debs = tmp_path / "debs"
    entries = write_fake_package(debs)
    pool_dir = build_real_pool(tmp_path / "pool", "train", 3, debs=debs, entries=entries,
                               labels=("dog barking", "rain"), progress=False)
    manifest = json.loads((pool_dir / "manifest.json").read_text())
    assert manifest["corpus"] == "real" and manifest["classes"] == [c.label for c in ALL_CLASSES]
    assert {e["source"]["origin"] for e in manifest["clips"].values()} == {"real"}
    clip = pool_dir / "dog_barking" / "0001.wav"
    original = clip.read_bytes()
    clip.unlink()
    build_real_pool(tmp_path / "pool", "train", 3, debs=debs, entries=entries, labels=("dog barking", "rain"),
                    progress=False)
    assert clip.read_bytes() == original
    pool = SourcePool.load(pool_dir)
    labels = [c.label for c in pool.classes]
    assert pool.kind == "real" and pool.clip_counts[labels.index("rain")] == 3
    assert all(len(a) >= 2.5 * RATE for a in pool.clips[labels.index("dog barking")]), "short barks are repeated"


def test_a_file_that_changed_since_the_scan_is_refused(tmp_path):
    debs = tmp_path / "debs"
    entries = write_fake_package(debs)
    changed = [Entry(**{**e.__dict__, "md5": "0" * 32}) for e in entries]
    with pytest.raises(ValueError, match="differs from the manifest"):
        build_real_pool(tmp_path / "pool", "train", 2, debs=debs, entries=changed, labels=("rain",), progress=False)


def test_a_packed_pool_loads_the_same_clips_as_its_directories(tmp_path):
    debs = tmp_path / "debs"
    entries = write_fake_package(debs)
    for split in ("train", "valid"):
        build_real_pool(tmp_path / "pool", split, 2, debs=debs, entries=[Entry(**{**e.__dict__, "split": split})
                        for e in entries], labels=("dog barking", "rain"), progress=False)
    packed = pack_pools(tmp_path / "pool", tmp_path / "pool.zip", ("train", "valid"))
    for split in ("train", "valid"):
        unpacked, loaded = SourcePool.load(tmp_path / "pool" / split), SourcePool.load(packed, split=split)
        assert loaded.kind == "real" and loaded.classes == unpacked.classes
        assert loaded.clip_counts == unpacked.clip_counts
        for a, b in zip((c for cs in unpacked.clips for c in cs), (c for cs in loaded.clips for c in cs)):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="say which split"):
        SourcePool.load(packed)


def test_attribution_ships_with_the_weights_and_credits_every_package(manifest):
    text = ATTRIBUTION_PATH.read_text()
    assert ATTRIBUTION_PATH.parent == REPO / "model" / "weights"
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["model"]
    assert "weights/ATTRIBUTION.md" in package_data
    for package in {e.package for e in manifest}:
        assert f"## {package} " in text, package
    for entry in manifest:
        if entry.licence.startswith("CC-BY"):
            section = text.split(f"## {entry.package} ")[1].split("\n## ")[0]
            assert "- copyright:" in section, entry.package

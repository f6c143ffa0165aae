"""Instrument clips: random seeded music written as MIDI and rendered with fluidsynth.

Each clip is a short performance (melody, chords, arpeggios, strumming, bass line or drum groove)
in a random key, mode, tempo and register, with varied velocities and expression. Loading a large
soundfont costs about a second, so the clips of one batch share one MIDI file and one fluidsynth
run, separated by silent gaps, and are cut apart afterwards.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np

from .audio import fade, read_mono
from .tools import run_tool

TIM_GM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
MUSESCORE_GENERAL = Path("/usr/share/sounds/sf3/MuseScore_General_Full.sf3")
FLUID_R3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")  # reserved for the independent split
SOUNDFONT_PACKAGES = {
    TIM_GM: "timgm6mb-soundfont",
    MUSESCORE_GENERAL: "musescore-general-soundfont",
    FLUID_R3: "fluid-soundfont-gm",
}

DRUM_CHANNEL = 9
DRUM_KITS = (0, 8, 16, 24, 25, 32, 40, 48)  # standard, room, power, electronic, 808, jazz, brush, orchestra
SECONDS_PER_TICK = 1 / 960  # MIDI default tempo (120 bpm) at 480 ticks per beat
GAP_SECONDS = 3.0  # at least this much silence between clips in one render, longer than any release tail
RELEASE_SECONDS = 0.4  # kept after a clip's last note-off
GM_SYSTEM_ON = (0x7E, 0x7F, 0x09, 0x01)  # universal SysEx message that resets a General MIDI synthesiser

MODES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
}
PROGRESSIONS = ((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3), (1, 4, 0, 0), (0, 3, 0, 4), (5, 3, 0, 4), (0, 0, 3, 3))


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    duration: float
    pitch: int
    velocity: int


@dataclass
class Performance:
    """One clip's worth of music on one MIDI channel."""

    program: int
    channel: int
    duration: float
    notes: list[Note] = field(default_factory=list)
    controls: list[tuple[float, int, int]] = field(default_factory=list)  # (seconds, controller, value)
    pitch_bend: int = 0


@dataclass(frozen=True)
class Instrument:
    programs: tuple[int, ...]
    low: int  # lowest and highest MIDI pitch played
    high: int
    styles: tuple[str, ...]
    sustained: bool = False  # bowed or blown: shaped with expression and vibrato


INSTRUMENTS = {
    "piano": Instrument((0, 1, 2), 33, 96, ("melody", "chords", "arpeggio", "melody with chords")),
    "acoustic guitar": Instrument((24, 25), 40, 81, ("strum", "arpeggio", "melody")),
    "violin": Instrument((40,), 55, 100, ("melody",), sustained=True),
    "flute": Instrument((73,), 60, 96, ("melody",), sustained=True),
    "trumpet": Instrument((56,), 54, 84, ("melody",), sustained=True),
    "bass guitar": Instrument((32, 33, 34), 28, 60, ("bass line",)),
    "church organ": Instrument((19,), 36, 84, ("chords", "melody with chords", "melody"), sustained=True),
    "drums": Instrument(DRUM_KITS, 35, 81, ("drums",)),
}


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class
    mode: str
    beat: float  # seconds per beat

    def scale(self, low: int, high: int, pentatonic: bool = False) -> list[int]:
        degrees = MODES[self.mode]
        if pentatonic:  # drop the 4th and 7th degrees, the usual pentatonic subset
            degrees = tuple(d for i, d in enumerate(degrees) if i not in (3, 6))
        return [p for p in range(low, high + 1) if (p - self.tonic) % 12 in degrees]

    def chord(self, degree: int, root_floor: int, size: int) -> list[int]:
        """A diatonic triad or seventh on ``degree``, rooted at the first such pitch from ``root_floor``."""
        steps = MODES[self.mode]
        root = root_floor + (self.tonic + steps[degree % 7] - root_floor) % 12
        return [root + _scale_interval(steps, degree, 2 * k) for k in range(size)]


def _scale_interval(steps: tuple[int, ...], degree: int, offset: int) -> int:
    """Semitones from scale degree ``degree`` up ``offset`` scale steps."""
    target = degree + offset
    return steps[target % 7] + 12 * (target // 7) - steps[degree % 7]


def random_key(rng: np.random.Generator) -> Key:
    return Key(int(rng.integers(12)), str(rng.choice(list(MODES))), 60 / float(rng.uniform(60, 170)))


def velocity(rng: np.random.Generator, base: int, accent: bool = False) -> int:
    return int(np.clip(base + rng.normal(0, 8) + (12 if accent else 0), 15, 127))


# --- Styles: each returns the notes of one clip of ``duration`` seconds. ---


def melody(rng, key: Key, instrument: Instrument, duration: float, low: int, high: int) -> list[Note]:
    """A random walk over the scale with mostly small steps, rests and phrase-level dynamics."""
    pitches = key.scale(low, high, pentatonic=rng.random() < 0.3)
    lengths = (0.25, 0.5, 0.5, 1, 1, 1.5, 2, 3) if instrument.sustained else (0.25, 0.5, 0.5, 0.75, 1, 1, 2)
    articulation = rng.uniform(0.95, 1.05) if instrument.sustained and rng.random() < 0.7 else rng.uniform(0.4, 0.9)
    base = int(rng.integers(50, 110))
    index, time, notes = int(rng.integers(len(pitches) // 4, 3 * len(pitches) // 4 + 1)), 0.0, []
    while time < duration:
        length = float(rng.choice(lengths)) * key.beat
        if rng.random() > 0.1:
            step = int(rng.choice((-2, -1, -1, 0, 1, 1, 2))) if rng.random() < 0.85 else int(rng.integers(-5, 6))
            index = int(np.clip(index + step, 0, len(pitches) - 1))
            notes.append(Note(time, length * articulation, pitches[index], velocity(rng, base)))
        time += length
    return notes


def chords(rng, key: Key, instrument: Instrument, duration: float, low: int, high: int) -> list[Note]:
    """A diatonic progression, held (organ) or re-struck in a rhythm (piano)."""
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    chord_beats = float(rng.choice((1, 2, 2, 4)))
    hits_per_chord = 1 if instrument.sustained else int(rng.choice((1, 1, 2, 4)))
    size = int(rng.choice((3, 3, 4)))
    root_floor = int(rng.integers(low, max(low + 1, min(high - 16, low + 24))))
    base = int(rng.integers(45, 105))
    notes, time, chord_number = [], 0.0, 0
    while time < duration:
        pitches = key.chord(progression[chord_number % len(progression)], root_floor, size)
        if rng.random() < 0.4:  # occasionally double the root an octave below
            pitches = [pitches[0] - 12, *pitches] if pitches[0] - 12 >= low else pitches
        hit = chord_beats * key.beat / hits_per_chord
        for h in range(hits_per_chord):
            accent = h == 0
            notes += [Note(time + h * hit, hit * 0.95, p, velocity(rng, base, accent)) for p in pitches]
        time += chord_beats * key.beat
        chord_number += 1
    return notes


def arpeggio(rng, key: Key, instrument: Instrument, duration: float, low: int, high: int) -> list[Note]:
    """Broken chords: the chord tones one after another, up, down or up-and-down."""
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    step = float(rng.choice((0.25, 0.5, 0.5, 1 / 3))) * key.beat
    ring = float(rng.uniform(1, 4))  # notes are held over the following ones, like a sustain pedal
    root_floor = int(rng.integers(low, max(low + 1, high - 24)))
    shape = str(rng.choice(("up", "down", "up-down")))
    base = int(rng.integers(45, 100))
    notes, time, chord_number = [], 0.0, 0
    while time < duration:
        tones = key.chord(progression[chord_number % len(progression)], root_floor, int(rng.choice((3, 4))))
        tones = tones + [tones[0] + 12]
        order = {"up": tones, "down": tones[::-1], "up-down": tones + tones[-2:0:-1]}[shape]
        for i, pitch in enumerate(order):
            notes.append(Note(time, step * ring, pitch, velocity(rng, base, accent=i == 0)))
            time += step
        chord_number += 1
    return notes


def melody_with_chords(rng, key: Key, instrument: Instrument, duration: float, low: int, high: int) -> list[Note]:
    split = (low + high) // 2
    accompaniment = chords(rng, key, instrument, duration, low, split + 5)
    quieter = [Note(n.start, n.duration, n.pitch, max(15, n.velocity - 20)) for n in accompaniment]
    return quieter + melody(rng, key, instrument, duration, split, high)


def strum(rng, key: Key, instrument: Instrument, duration: float, low: int, high: int) -> list[Note]:
    """Guitar strumming: 4-6 strings per chord, each string a few milliseconds after the last."""
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    pattern = [rng.random() < 0.6 for _ in range(8)]  # which eighth notes of a bar are strummed
    pattern[0] = True
    spread = float(rng.uniform(0.008, 0.035))
    base = int(rng.integers(50, 105))
    notes, time, chord_number = [], 0.0, 0
    while time < duration:
        root_floor = low + int(rng.integers(0, 8))
        triad = key.chord(progression[chord_number % len(progression)], root_floor, 3)
        voicing = sorted({p + 12 * octave for p in triad for octave in (0, 1)})[: int(rng.integers(4, 7))]
        for eighth, strike in enumerate(pattern):
            if not strike:
                continue
            onset = time + eighth * key.beat / 2
            upstroke = eighth % 2 == 1
            strings = voicing[::-1][:4] if upstroke else voicing
            for s, pitch in enumerate(strings):
                accent = eighth % 4 == 0
                vel = velocity(rng, base - (15 if upstroke else 0), accent)
                notes.append(Note(onset + s * spread, key.beat * 0.5 * rng.uniform(0.9, 2.5), pitch, vel))
        time += 4 * key.beat
        chord_number += 1
    return notes


def bass_line(rng, key: Key, instrument: Instrument, duration: float, low: int, high: int) -> list[Note]:
    """Roots, fifths, octaves and passing notes over a progression, in a repeating rhythm."""
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    rhythm = [float(rng.choice((0.5, 0.5, 1, 1, 0.25, 1.5))) for _ in range(int(rng.integers(3, 7)))]
    staccato = float(rng.uniform(0.5, 0.98))
    base = int(rng.integers(60, 115))
    scale = key.scale(low, high)
    notes, time, step = [], 0.0, 0
    while time < duration:
        root = key.chord(progression[int(time / (4 * key.beat)) % len(progression)], low, 1)[0]
        candidates = [root, root, root + 7, root + 12, *scale[:: max(1, len(scale) // 6)]]
        pitch = int(np.clip(candidates[int(rng.integers(len(candidates)))], low, high))
        length = rhythm[step % len(rhythm)] * key.beat
        if rng.random() > 0.08:
            notes.append(Note(time, length * staccato, pitch, velocity(rng, base, accent=step % len(rhythm) == 0)))
        time += length
        step += 1
    return notes


# GM drum notes grouped by role.
KICKS, SNARES = (35, 36), (38, 40, 37)
HATS, RIDES, CRASHES = (42, 44, 46), (51, 53, 59), (49, 57, 52, 55)
TOMS = (41, 43, 45, 47, 48, 50)


def drums(rng, key: Key, instrument: Instrument, duration: float, low: int, high: int) -> list[Note]:
    """A random groove on a 16-step grid with kick, snare, cymbals, ghost notes, swing and fills."""
    steps = int(rng.choice((16, 16, 16, 12)))  # 4/4 or 3/4 in sixteenths
    kick = [rng.random() < (0.8 if i % 8 == 0 else 0.15) for i in range(steps)]
    snare = [rng.random() < (0.9 if i % 8 == 4 else 0.06) for i in range(steps)]
    cymbal_every = int(rng.choice((1, 2, 2, 4)))
    cymbal = _choice(rng, HATS[:2] if rng.random() < 0.7 else RIDES)
    kick_note, snare_note = _choice(rng, KICKS), _choice(rng, SNARES)
    swing = float(rng.uniform(0, 0.3)) if rng.random() < 0.4 else 0.0
    sixteenth = key.beat / 4
    base = int(rng.integers(60, 115))
    notes, bar_start, bar = [], 0.0, 0
    while bar_start < duration:
        fill_from = steps - int(rng.choice((0, 0, 4, 8))) if bar % 2 == 1 else steps
        for i in range(steps):
            time = bar_start + (i + (swing if i % 2 else 0)) * sixteenth
            if i >= fill_from:
                if rng.random() < 0.7:
                    notes.append(Note(time, sixteenth, _choice(rng, TOMS + SNARES[:1]), velocity(rng, base)))
                continue
            if kick[i]:
                notes.append(Note(time, sixteenth, kick_note, velocity(rng, base, accent=i == 0)))
            if snare[i]:
                notes.append(Note(time, sixteenth, snare_note, velocity(rng, base, accent=True)))
            elif rng.random() < 0.05:  # ghost note
                notes.append(Note(time, sixteenth, snare_note, velocity(rng, base - 40)))
            if i % cymbal_every == 0:
                hit = HATS[2] if cymbal in HATS and rng.random() < 0.08 else cymbal
                notes.append(Note(time, sixteenth, hit, velocity(rng, base - 15, accent=i % 4 == 0)))
        if bar == 0 or (fill_from < steps and rng.random() < 0.5):
            crash_time = bar_start if bar == 0 else bar_start + steps * sixteenth
            notes.append(Note(crash_time, key.beat, _choice(rng, CRASHES), velocity(rng, base, accent=True)))
        bar_start += steps * sixteenth
        bar += 1
    return [n for n in notes if n.start < duration]


STYLES = {
    "melody": melody,
    "chords": chords,
    "arpeggio": arpeggio,
    "melody with chords": melody_with_chords,
    "strum": strum,
    "bass line": bass_line,
    "drums": drums,
}


def _choice(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def compose(label: str, rng: np.random.Generator) -> tuple[Performance, dict]:
    """A random performance of instrument class ``label``, 3-8 s long."""
    instrument = INSTRUMENTS[label]
    key = random_key(rng)
    style = _choice(rng, instrument.styles)
    duration = float(rng.uniform(3.0, 8.0))
    # A random sub-range of the instrument's compass, at least an octave and a half wide.
    width = int(rng.integers(18, max(19, instrument.high - instrument.low + 1)))
    low = int(rng.integers(instrument.low, instrument.high - width + 2))
    notes = STYLES[style](rng, key, instrument, duration, low, min(instrument.high, low + width))
    notes = [
        Note(n.start, min(n.duration, duration - n.start), n.pitch, n.velocity) for n in notes if n.start < duration
    ]
    channel = DRUM_CHANNEL if style == "drums" else 0
    performance = Performance(_choice(rng, instrument.programs), channel, duration, notes)
    if instrument.sustained:
        performance.controls += expression_curve(rng, duration)
        performance.controls.append((0.0, 1, int(rng.integers(0, 70))))  # modulation wheel: vibrato depth
    if channel != DRUM_CHANNEL:
        performance.pitch_bend = int(rng.integers(-400, 401))  # tuning within about +-10 cents
    details = {"style": style, "program": performance.program, "tonic": key.tonic, "mode": key.mode,
               "bpm": round(60 / key.beat, 1), "low": low, "notes": len(notes)}
    return performance, details


def expression_curve(rng: np.random.Generator, duration: float) -> list[tuple[float, int, int]]:
    """Slow random swells of MIDI expression (controller 11), a point every 100 ms."""
    times = np.arange(0.0, duration, 0.1)
    anchors = rng.uniform(70, 127, size=max(2, int(duration / 1.5) + 2))
    curve = np.interp(times, np.linspace(0, duration, len(anchors)), anchors)
    return [(float(t), 11, int(v)) for t, v in zip(times, curve)]


def write_midi(performances: list[Performance], path: Path) -> list[float]:
    """All performances one after another with silent gaps in one MIDI file; returns their start times."""
    events: list[tuple[float, int, mido.Message]] = []  # (seconds, order within an instant, message)
    starts, offset = [], 0.0
    for performance in performances:
        starts.append(offset)
        channel = performance.channel
        events.append((offset, 0, mido.Message("sysex", data=GM_SYSTEM_ON)))  # reset every controller
        events.append((offset, 1, mido.Message("program_change", channel=channel, program=performance.program)))
        events.append((offset, 1, mido.Message("pitchwheel", channel=channel, pitch=performance.pitch_bend)))
        for time, control, value in performance.controls:
            message = mido.Message("control_change", channel=channel, control=control, value=value)
            events.append((offset + time, 2, message))
        for note in performance.notes:
            note_on = mido.Message("note_on", channel=channel, note=note.pitch, velocity=note.velocity)
            events.append((offset + note.start, 4, note_on))
            note_off = mido.Message("note_off", channel=channel, note=note.pitch)
            events.append((offset + note.start + note.duration, 3, note_off))
        # Silence what still rings (cymbals ignore note-offs) once the clip has been cut out.
        all_sound_off = mido.Message("control_change", channel=channel, control=120, value=0)
        events.append((offset + performance.duration + RELEASE_SECONDS + 0.1, 0, all_sound_off))
        # Whole-second starts put every clip's notes on the same MIDI tick and synthesis block grid,
        # wherever the clip lands in a batch.
        offset += math.ceil(performance.duration + GAP_SECONDS)
    # A final harmless event keeps the render going through the last clip's release.
    events.append((offset, 0, mido.Message("control_change", channel=0, control=121, value=0)))

    track = mido.MidiTrack()
    previous_tick = 0
    for seconds, _, message in sorted(events, key=lambda event: (event[0], event[1])):
        tick = round(seconds / SECONDS_PER_TICK)
        track.append(message.copy(time=tick - previous_tick))
        previous_tick = tick
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    midi.save(str(path))
    return starts


def require_soundfont(soundfont: Path) -> Path:
    if not soundfont.exists():
        package = SOUNDFONT_PACKAGES.get(soundfont, "a General MIDI soundfont")
        raise FileNotFoundError(f"soundfont {soundfont} is missing; install it with: apt-get install {package}")
    return soundfont


def render_performances(performances: list[Performance], soundfont: Path, sample_rate: int) -> list[np.ndarray]:
    """Render many performances with one fluidsynth run and cut them apart."""
    require_soundfont(soundfont)
    with tempfile.TemporaryDirectory(prefix="music-") as directory:
        midi_path, wav_path = Path(directory) / "batch.mid", Path(directory) / "batch.wav"
        starts = write_midi(performances, midi_path)
        run_tool([
            "fluidsynth", "-n", "-i", "-q", "-g", "0.5", "-R", "0", "-C", "0", "-r", str(sample_rate),
            "-O", "float", "-o", "synth.dynamic-sample-loading=1", "-F", str(wav_path), str(soundfont), str(midi_path),
        ], timeout=600)
        rendered = read_mono(wav_path, sample_rate)
    clips = []
    for start, performance in zip(starts, performances):
        first = int(start * sample_rate)
        last = first + int((performance.duration + RELEASE_SECONDS) * sample_rate)
        clips.append(fade(rendered[first:last], sample_rate // 200))
    return clips


def soundfonts_for(split: str) -> tuple[Path, ...]:
    return (FLUID_R3,) if split == "independent" else (TIM_GM, MUSESCORE_GENERAL)


def instrument_clips(
    label: str, rngs: list[np.random.Generator], split: str, sample_rate: int
) -> list[tuple[np.ndarray, dict]]:
    """Compose one performance per generator, render them grouped by soundfont, keep the input order."""
    soundfonts = soundfonts_for(split)
    plans = []
    for rng in rngs:
        performance, details = compose(label, rng)
        plans.append((performance, _choice(rng, soundfonts), details))
    results: list[tuple[np.ndarray, dict] | None] = [None] * len(plans)
    for soundfont in soundfonts:
        chosen = [i for i, plan in enumerate(plans) if plan[1] == soundfont]
        if not chosen:
            continue
        audios = render_performances([plans[i][0] for i in chosen], soundfont, sample_rate)
        for i, audio in zip(chosen, audios):
            results[i] = (audio, {"soundfont": soundfont.name, **plans[i][2]})
    return results

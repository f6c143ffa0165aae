"""The sound classes of the synthetic corpus and the text used to query them.

Training pairs each target with its label or one of its ``captions``; ``heldout_captions`` are
never seen in training and measure how well the model generalises to new wordings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SoundClass:
    label: str
    captions: tuple[str, ...]
    heldout_captions: tuple[str, ...]

    @property
    def slug(self) -> str:
        """File-system friendly name, used as the class directory in a pool."""
        return self.label.replace(" ", "_")


CLASSES: tuple[SoundClass, ...] = (
    SoundClass(
        "speech",
        captions=(
            "a woman reading aloud",
            "a man talking",
            "someone speaking in a calm voice",
            "a person giving a short speech",
            "people talking",
            "a narrator reading a story",
            "a male voice speaking english",
            "a female voice announcing something",
        ),
        heldout_captions=(
            "a voice saying a few sentences",
            "human speech",
            "a speaker explaining something",
            "somebody chatting",
        ),
    ),
    SoundClass(
        "piano",
        captions=(
            "someone playing the piano",
            "a piano melody",
            "piano chords",
            "a pianist practising scales",
            "soft piano music",
            "a grand piano being played",
            "keys of a piano",
            "an upright piano tune",
        ),
        heldout_captions=(
            "a solo piano piece",
            "a person playing keyboard music on a piano",
            "piano notes",
            "classical piano playing",
        ),
    ),
    SoundClass(
        "acoustic guitar",
        captions=(
            "someone plucking a guitar",
            "strumming an acoustic guitar",
            "a guitar melody",
            "fingerpicked guitar",
            "acoustic guitar chords",
            "a folk guitar tune",
            "nylon string guitar playing",
            "a steel string guitar being strummed",
        ),
        heldout_captions=(
            "a person playing guitar",
            "guitar strings",
            "an unplugged guitar",
            "classical guitar music",
        ),
    ),
    SoundClass(
        "violin",
        captions=(
            "a violin playing a melody",
            "someone bowing a violin",
            "a solo violin",
            "a fiddle tune",
            "violin music",
            "a violinist playing slowly",
            "the sound of a violin",
            "a bowed string instrument",
        ),
        heldout_captions=(
            "a fiddle being played",
            "violin notes",
            "a classical violin piece",
            "a person playing the violin",
        ),
    ),
    SoundClass(
        "flute",
        captions=(
            "a flute melody",
            "someone playing the flute",
            "a breathy flute",
            "a solo flute",
            "flute music",
            "a flautist playing a tune",
            "a woodwind melody on flute",
            "the sound of a flute",
        ),
        heldout_captions=(
            "a flute being played",
            "flute notes",
            "a gentle flute tune",
            "a person blowing a flute",
        ),
    ),
    SoundClass(
        "trumpet",
        captions=(
            "a trumpet playing",
            "someone blowing a trumpet",
            "a brass melody on trumpet",
            "a trumpet solo",
            "trumpet music",
            "a bright trumpet fanfare",
            "a jazz trumpet",
            "the sound of a trumpet",
        ),
        heldout_captions=(
            "a trumpet being played",
            "trumpet notes",
            "a brass instrument",
            "a person playing the trumpet",
        ),
    ),
    SoundClass(
        "drums",
        captions=(
            "a drum beat",
            "someone playing the drums",
            "a drum kit",
            "drums and cymbals",
            "a rock drum groove",
            "a drummer playing a rhythm",
            "kick drum and snare",
            "percussion with hi-hats",
        ),
        heldout_captions=(
            "drums being played",
            "a drum solo",
            "a beat on a drum set",
            "drumming",
        ),
    ),
    SoundClass(
        "bass guitar",
        captions=(
            "a bass guitar",
            "someone playing a bass line",
            "an electric bass",
            "a funky bass line",
            "bass guitar notes",
            "a low bass groove",
            "a bassist playing",
            "a fretless bass",
        ),
        heldout_captions=(
            "a bass guitar being played",
            "a bass line",
            "deep bass notes",
            "a person playing the bass",
        ),
    ),
    SoundClass(
        "church organ",
        captions=(
            "a church organ",
            "someone playing a pipe organ",
            "organ chords in a church",
            "a hymn on the organ",
            "organ music",
            "a cathedral organ",
            "sustained organ notes",
            "an organist playing",
        ),
        heldout_captions=(
            "a pipe organ being played",
            "organ notes",
            "a church organ piece",
            "a person playing the organ",
        ),
    ),
    SoundClass(
        "telephone ringing",
        captions=(
            "a telephone ringing",
            "a phone is ringing",
            "an old telephone bell",
            "a landline phone ringing",
            "the ring tone of a phone",
            "an office phone ringing",
            "a ringing telephone",
            "a phone rings several times",
        ),
        heldout_captions=(
            "a telephone rings",
            "a phone ringing in a room",
            "an incoming call",
            "a telephone ring",
        ),
    ),
    SoundClass(
        "alarm beeping",
        captions=(
            "an alarm beeping",
            "an alarm clock going off",
            "a smoke detector beeping",
            "electronic beeps",
            "a beeping alarm",
            "a timer beeping",
            "a warning beep",
            "repeated beeping",
        ),
        heldout_captions=(
            "an alarm",
            "beeping",
            "a beeper",
            "a watch alarm",
        ),
    ),
    SoundClass(
        "siren",
        captions=(
            "an ambulance siren wailing",
            "a police siren",
            "a fire truck siren",
            "an emergency vehicle siren",
            "a siren wailing",
            "a yelping siren",
            "a warning siren",
            "sirens",
        ),
        heldout_captions=(
            "a siren",
            "a police car siren",
            "an air raid siren",
            "the wail of a siren",
        ),
    ),
    SoundClass(
        "bell ringing",
        captions=(
            "a church bell ringing",
            "bells ringing",
            "a bell tolling",
            "someone ringing a hand bell",
            "church bells",
            "a large bell",
            "a bell chime",
            "a ringing bell",
        ),
        heldout_captions=(
            "a bell",
            "a bell being struck",
            "tolling bells",
            "bells",
        ),
    ),
)


def class_index(label: str) -> int:
    """Position of ``label`` in ``CLASSES``; raises ``KeyError`` for an unknown label."""
    for index, sound_class in enumerate(CLASSES):
        if sound_class.label == label:
            return index
    raise KeyError(f"unknown sound class {label!r}")

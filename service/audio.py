"""Uploads in, answers out: decoding with limits, and encoding. Pure functions, run in threads."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO, Literal, get_args

import numpy as np
import soundfile as sf

from service.errors import invalid, too_large, unsupported_audio
from service.settings import Settings, env_name

OutputFormat = Literal["wav", "flac"]
OutputSubtype = Literal["PCM_16", "FLOAT"]
# form value -> (libsndfile format, Content-Type)
OUTPUT_FORMATS = {"wav": ("WAV", "audio/wav"), "flac": ("FLAC", "audio/flac")}
OUTPUT_SUBTYPES = get_args(OutputSubtype)
# Telephone to studio rates; outside them a header is broken or hostile (a 1 GHz "recording").
MIN_RATE, MAX_RATE = 1000, 384_000
UNKNOWN_LENGTH = 2**63 - 1
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")


@dataclass(frozen=True)
class Limits:
    max_seconds: float
    max_channels: int
    # The settings that raise each limit, named in its 413 so the operator knows what to change;
    # None for a fixed limit (the `query_audio` recording's length).
    seconds_setting: str | None = None
    channels_setting: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """An upload's limits, each naming the TEXTSEP_ variable that sets it."""
        return cls(settings.max_seconds, settings.max_channels, env_name("max_seconds"), env_name("max_channels"))

    def check(self, channels: int, seconds: float) -> None:
        if channels > self.max_channels:
            message = f"{channels} channels; this server takes at most {self.max_channels}"
            raise too_large("too_many_channels", message + raised_by(self.channels_setting))
        if seconds > self.max_seconds:
            message = f"{seconds:.1f} s of audio; this server takes at most {self.max_seconds:g} s"
            raise too_large("audio_too_long", message + raised_by(self.seconds_setting))


def raised_by(setting: str | None) -> str:
    return f" (set {setting} to raise it)" if setting else ""


@dataclass(frozen=True)
class Upload:
    samples: np.ndarray  # float32 [channels, frames]
    sample_rate: int
    floating: bool = False  # the file held float samples (which may go beyond full scale)

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def frames(self) -> int:
        return self.samples.shape[1]

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def decode(file: BinaryIO, limits: Limits) -> Upload:
    """Any format libsndfile reads (WAV, FLAC, OGG, MP3, ...) -> float32 [channels, frames].

    The header is checked against the limits before a sample is decoded, and decoding stops one
    frame past the limit, so a header that understates the length cannot make us decode more."""
    if file.seek(0, io.SEEK_END) == 0:  # libsndfile would say "Format not recognised"
        raise invalid("empty_file", "the uploaded file is empty (0 bytes): nothing to separate")
    file.seek(0)
    try:
        info = sf.info(file)
    except sf.SoundFileError as error:
        raise unsupported_audio(f"not decodable audio: {reason(error)}") from error
    if not MIN_RATE <= info.samplerate <= MAX_RATE or info.channels <= 0:
        raise unsupported_audio(
            f"header declares {info.channels} channels at {info.samplerate} Hz; "
            f"this server takes {MIN_RATE}-{MAX_RATE} Hz"
        )
    # A stream that does not declare its length (libsndfile: the largest count) is held by the capped read alone.
    declared_frames = 0 if info.frames == UNKNOWN_LENGTH else info.frames
    limits.check(info.channels, declared_frames / info.samplerate)
    max_frames = int(limits.max_seconds * info.samplerate)
    file.seek(0)
    try:
        samples, sample_rate = read_channels_first(file, max_frames + 1)
    except sf.SoundFileError as error:
        raise unsupported_audio(f"the audio could not be decoded: {reason(error)}") from error
    upload = Upload(samples, sample_rate, info.subtype in FLOAT_SUBTYPES)
    if upload.frames > max_frames:  # the read stopped one frame past the limit: the true length is unknown
        message = f"the audio is longer than this server's limit of {limits.max_seconds:g} s"
        raise too_large("audio_too_long", message + raised_by(limits.seconds_setting))
    if upload.frames == 0:
        raise invalid("empty_audio", "the upload decodes to no samples")
    if not np.isfinite(upload.samples).all():  # float files can hold NaN or infinity; the model cannot
        raise invalid("non_finite_audio", "the audio holds NaN or infinite samples")
    return upload


DECODE_BLOCK_FRAMES = 1 << 16


def read_channels_first(file: BinaryIO, max_frames: int) -> tuple[np.ndarray, int]:
    """Up to `max_frames` frames -> (float32 [channels, frames], rate), block by block into one array:
    libsndfile gives frames first, and transposing a whole upload would hold it twice (a 10-minute
    stereo upload is 212 MB of float32)."""
    with sf.SoundFile(file) as sound:
        declared = sound.frames if 0 < sound.frames < UNKNOWN_LENGTH else max_frames
        # room for the declared length; pages past what is written are never touched, so never resident
        samples = np.empty((sound.channels, min(declared, max_frames)), dtype=np.float32)
        frames = 0
        # read() returns only what was decoded; SoundFile.blocks() would yield whole blocks even where a
        # stream that declares more than it holds (a cut MP3) ended early, uninitialised memory and all.
        while frames < max_frames and len(block := sound.read(min(DECODE_BLOCK_FRAMES, max_frames - frames),
                                                             dtype="float32", always_2d=True)):  # fmt: skip
            if frames + len(block) > samples.shape[1]:  # the header understated the length
                rest = np.empty((sound.channels, max_frames - frames), np.float32)
                samples = np.concatenate([samples[:, :frames], rest], axis=1)
            samples[:, frames : frames + len(block)] = block.T
            frames += len(block)
        return samples[:, :frames], sound.samplerate


def check_output(format: str, subtype: str) -> None:
    container = OUTPUT_FORMATS[format][0]
    if not sf.check_format(container, subtype):
        usable = [option for option in OUTPUT_SUBTYPES if sf.check_format(container, option)]
        raise invalid("invalid_subtype", f"{format} cannot hold {subtype} samples; use one of {usable}")


def clipped_samples(samples: np.ndarray, subtype: str) -> int:
    """How many samples a `subtype` file cannot hold: beyond full scale, for integer PCM."""
    return 0 if subtype == "FLOAT" else int(np.count_nonzero(np.abs(samples) > 1.0))


def answer_subtype(asked: str | None, format: str, upload: Upload) -> str:
    """The sample format of the answer: what was asked, else FLOAT for a float upload where the
    container holds it (so samples beyond full scale survive), else PCM_16."""
    if asked is not None:
        return asked
    return "FLOAT" if upload.floating and sf.check_format(OUTPUT_FORMATS[format][0], "FLOAT") else "PCM_16"


def encode(samples: np.ndarray, sample_rate: int, format: str, subtype: str) -> bytes:
    """float32 [channels, frames] -> file bytes (libsndfile clips to full scale for PCM)."""
    buffer = io.BytesIO()
    try:
        sf.write(buffer, samples.T, sample_rate, format=OUTPUT_FORMATS[format][0], subtype=subtype)
    except sf.SoundFileError as error:  # e.g. a rate or channel count the format cannot store
        raise invalid("unencodable_audio", f"cannot write this audio as {format}/{subtype}: {reason(error)}") from error
    return buffer.getvalue()


def reason(error: sf.SoundFileError) -> str:
    """libsndfile's own words, without the temporary file's name."""
    return getattr(error, "error_string", None) or str(error)

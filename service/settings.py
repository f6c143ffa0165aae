"""Every knob of the service, read from `TEXTSEP_*` environment variables (one class, one place)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import (
    AliasChoices,
    Field,
    FilePath,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "TEXTSEP_"
# The settings `model=audiosep` needs: what each is, and which file of the official release it is.
AUDIOSEP_FILES = {
    "audiosep_checkpoint": ("AudioSep checkpoint", "audiosep_base_4M_steps.ckpt from the AudioSep release"),
    "clap_checkpoint": (
        "LAION-CLAP checkpoint",
        "music_speech_audioset_epoch_15_esc_89.98.pt from the LAION-CLAP release",
    ),
    "clap_tokenizer_dir": (
        "RoBERTa tokenizer directory",
        "a folder holding roberta-base's vocab.json and merges.txt",
    ),
}


# The default body limit lets the longest upload in as the common uncompressed form of it: 16-bit
# stereo WAV at 48 kHz (a 44.1 kHz file is smaller), beside the longest `query_audio` recording
# of the same kind and the form around them (boundaries, part headers, the query fields).
WAV_BYTES_PER_SECOND = 48_000 * 2 * 2
QUERY_AUDIO_SECONDS = 30  # the service's longest `query_audio` (service.app's MAX_QUERY_AUDIO_SECONDS; a test checks)
FORM_BYTES = 1_000_000


def upload_bytes_for(max_seconds: float) -> int:
    """The request body that holds `max_seconds` of 16-bit 48 kHz stereo WAV, a query recording and the form."""
    return math.ceil((max_seconds + QUERY_AUDIO_SECONDS) * WAV_BYTES_PER_SECOND) + FORM_BYTES


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def parse_keys(text: str, separator: str) -> list[str]:
    """Keys from a setting (comma-separated) or a file (one a line, `#` comments), blanks dropped."""
    return [key for part in text.split(separator) if (key := part.split("#", 1)[0].strip())]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, populate_by_name=True, extra="ignore")

    model: str = Field(
        "bundled",
        description="`bundled` (the small model shipped in the package), `audiosep` (the official "
        "checkpoint; needs the three paths below) or the path of a project checkpoint.",
    )
    audiosep_checkpoint: Path | None = Field(None, description="AudioSep checkpoint file (model=audiosep).")
    clap_checkpoint: Path | None = Field(None, description="LAION-CLAP checkpoint file (model=audiosep).")
    clap_tokenizer_dir: Path | None = Field(None, description="RoBERTa tokenizer directory for CLAP (model=audiosep).")
    device: str | None = Field(None, description="Torch device (`cpu`, `cuda`, `cuda:1`); default: CUDA if available.")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Inference precision (`float16` needs CUDA)."
    )
    max_batch: int | Literal["auto"] = Field(
        "auto",
        description="Most chunks run in one forward pass, or `auto`: the size with the best measured throughput "
        "(within 5%, the largest such), timed at warm-up on this machine.",
    )
    max_wait_ms: float = Field(10.0, ge=0, description="Longest wait for a batch to fill once a chunk is queued.")
    instances: int | Literal["auto"] = Field(
        "auto",
        description="Model instances: processes holding one copy of the network each, fed by one scheduler. "
        "`auto`: on a CPU the configuration (instances x threads x batch) with the best throughput, measured at "
        "warm-up; on GPUs one per device.",
    )
    threads: int | Literal["auto"] = Field(
        "auto",
        description="Torch intra-op threads per instance. `auto`: measured with `instances` on a CPU (instances x "
        "threads = cores); on GPUs the cores shared out among the instances.",
    )
    compile: bool | Literal["auto"] = Field(
        "auto",
        description="Run the network through torch.compile (compiled during warm-up, before /readyz). `auto`: on "
        "CUDA yes, on a CPU no (there the first compilation takes minutes; cached, a restart takes about 40 s).",
    )
    compile_cache_dir: Path = Field(
        Path.home() / ".cache" / "textsep" / "compile",
        description="Where compiled artifacts are kept, so that a restart does not compile again.",
    )
    chunk_seconds: float | None = Field(
        None, gt=0, description="Chunk (batch item) length in seconds; default: the model's own."
    )
    overlap_seconds: float | None = Field(
        None, ge=0, description="Cross-fade between chunks in seconds; default: the model's own."
    )
    cache_size: int = Field(1024, ge=1, description="Query embeddings kept in the LRU cache.")
    max_upload_bytes: int | None = Field(
        None,
        ge=1,
        description="Largest request body; enforced while reading. Default: room for `max_seconds` of 16-bit "
        "stereo WAV at 48 kHz, a `query_audio` recording of the same kind and the form around them "
        "(121960000 bytes for the default 600 s).",
    )
    max_seconds: float = Field(600.0, gt=0, description="Longest upload in seconds of audio.")
    max_channels: int = Field(8, ge=1, description="Most channels in an upload.")
    max_queries: int = Field(8, ge=1, description="Most `query` fields in one /separate request.")
    unknown_query_threshold: float | Literal["model", "off"] = Field(
        "model",
        description="A text query less similar than this (cosine, 0-1) to every sound the model knows is refused "
        "with 422 `unknown_query`. `model`: the threshold stored with a closed-vocabulary model's weights (the "
        "bundled one; chosen on validation), none for an open-vocabulary one (AudioSep); `off`: never refuse.",
    )
    max_queue_seconds: float = Field(
        1800.0,
        gt=0,
        description="Backpressure: chunk audio (seconds) waiting for inference beyond which new requests get "
        "503; an empty queue always takes one request.",
    )
    upload_timeout_s: float = Field(
        120.0, gt=0, description="Longest time to receive a request body; a slower upload gets 408 and is cut off."
    )
    request_timeout_s: float = Field(
        600.0,
        gt=0,
        description="Longest time to answer a request; a slower one gets 503 and its queued work is dropped.",
    )
    api_keys: SecretStr = Field(
        SecretStr(""),
        description="Comma-separated API keys. With any key set (here or in the file), every route but "
        "/healthz, /readyz and the docs needs `Authorization: Bearer <key>`.",
    )
    api_keys_file: FilePath | None = Field(None, description="File of API keys, one a line (`#` starts a comment).")
    metrics_need_key: bool = Field(False, description="Whether /metrics needs an API key too (when keys are set).")
    log_queries: bool = Field(False, description="Put query texts in the access log (off: they may be personal).")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`text`: uvicorn's and the application's lines as people read them, on stderr (the access log "
        "is JSON on stdout either way); `json`: every line on stdout, one JSON object each.",
    )
    host: str = Field("0.0.0.0", description="Address `serve` listens on.")
    port: int = Field(
        8000,
        ge=0,
        le=65535,
        validation_alias=AliasChoices(env_name("port"), "PORT"),
        description="Port `serve` listens on (plain `PORT` works too).",
    )

    _keys: list[str] = PrivateAttr(default_factory=list)

    @field_validator("max_batch", "instances", "threads")
    @classmethod
    def positive_or_auto(cls, value: int | str) -> int | str:
        if value != "auto" and value < 1:
            raise ValueError("must be a positive integer or `auto`")
        return value

    @model_validator(mode="after")
    def upload_bytes_for_the_longest_upload(self) -> Settings:
        """Unset, the byte limit follows the duration limit, so that the two never disagree."""
        if self.max_upload_bytes is None:
            self.max_upload_bytes = upload_bytes_for(self.max_seconds)
        return self

    @model_validator(mode="after")
    def read_api_keys(self) -> Settings:
        """TEXTSEP_API_KEYS and the keys in TEXTSEP_API_KEYS_FILE, read once, here."""
        keys = parse_keys(self.api_keys.get_secret_value(), ",")
        if self.api_keys_file is not None:
            from_file = parse_keys(self.api_keys_file.read_text(), "\n")
            if not from_file:  # a key file meant to lock the API must not silently leave it open
                raise ValueError(f"the API key file {self.api_keys_file} holds no keys")
            keys += from_file
        self._keys = keys
        return self

    @property
    def keys(self) -> list[str]:
        """Every configured API key; none: the API is open."""
        return self._keys

    def required_files(self) -> list[RequiredFile]:
        """Every file the model setting needs, with the variable that sets it (path None: unset)."""
        if self.model == "bundled":
            return []
        if self.model == "audiosep":
            return [
                RequiredFile(getattr(self, field), what, env_name(field), release)
                for field, (what, release) in AUDIOSEP_FILES.items()
            ]
        return [RequiredFile(Path(self.model), "model checkpoint", env_name("model"), "a checkpoint of this project")]


class RequiredFile(NamedTuple):
    path: Path | None
    what: str
    variable: str
    release: str  # where such a file comes from


class ConfigurationError(Exception):
    """A setting to fix, not a bug: the message says which and how; `textsep` prints it without a traceback."""


def check_model_files(settings: Settings) -> None:
    """Every unset or missing file the model setting needs, in one message (not just the first)."""
    problems = []
    for required in settings.required_files():
        state = "is not set" if required.path is None else f"= {required.path}: not found"
        if required.path is None or not required.path.exists():
            problems.append(f"  {required.variable} {state}\n      ({required.what}: {required.release})")
    if problems:
        raise ConfigurationError(
            f"{env_name('model')}={settings.model} needs files that are not there:\n" + "\n".join(problems)
        )


def describe_validation_error(error: ValidationError) -> str:
    """pydantic's report as one line per variable: `TEXTSEP_X: what is wrong (got 'value')`."""
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "settings"
        got = f" (got {problem['input']!r})" if isinstance(problem.get("input"), (str, int, float)) else ""
        lines.append(f"  {env_name(field)}: {problem['msg']}{got}")
    return "invalid settings:\n" + "\n".join(lines)

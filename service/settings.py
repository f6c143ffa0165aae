"""Every knob of the service, read from `TEXTSEP_*` environment variables (one class, one place)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.auth import read_keys_file

ENV_PREFIX = "TEXTSEP_"
AUDIOSEP_FILES = {
    "audiosep_checkpoint": "AudioSep checkpoint",
    "clap_checkpoint": "CLAP checkpoint",
    "clap_tokenizer_dir": "CLAP tokenizer directory",
}


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


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
    chunk_seconds: float | None = Field(
        None, gt=0, description="Chunk (batch item) length in seconds; default: the model's own."
    )
    overlap_seconds: float | None = Field(
        None, ge=0, description="Cross-fade between chunks in seconds; default: the model's own."
    )
    cache_size: int = Field(1024, ge=1, description="Query embeddings kept in the LRU cache.")
    max_upload_bytes: int = Field(100_000_000, ge=1, description="Largest request body; enforced while reading.")
    max_seconds: float = Field(600.0, gt=0, description="Longest upload in seconds of audio.")
    max_channels: int = Field(8, ge=1, description="Most channels in an upload.")
    max_queries: int = Field(8, ge=1, description="Most `query` fields in one /separate request.")
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
    host: str = Field("0.0.0.0", description="Address `serve` listens on.")
    port: int = Field(
        8000,
        ge=0,
        le=65535,
        validation_alias=AliasChoices(env_name("port"), "PORT"),
        description="Port `serve` listens on (plain `PORT` works too).",
    )

    @field_validator("max_batch")
    @classmethod
    def positive_batch(cls, value: int | str) -> int | str:
        if value != "auto" and value < 1:
            raise ValueError("max_batch must be a positive integer or `auto`")
        return value

    @model_validator(mode="after")
    def audiosep_needs_its_files(self) -> Settings:
        if self.model == "audiosep":
            unset = [env_name(field) for field in AUDIOSEP_FILES if getattr(self, field) is None]
            if unset:
                raise ValueError(f"{env_name('model')}=audiosep needs {', '.join(unset)}")
        return self

    @model_validator(mode="after")
    def api_keys_file_holds_keys(self) -> Settings:
        if self.api_keys_file is not None:
            read_keys_file(self.api_keys_file)  # raises for a file without keys
        return self

    def required_files(self) -> list[tuple[Path, str, str]]:
        """(path, what it is, the variable that sets it) for every file the model setting needs."""
        if self.model == "bundled":
            return []
        if self.model == "audiosep":
            return [(getattr(self, field), what, env_name(field)) for field, what in AUDIOSEP_FILES.items()]
        return [(Path(self.model), "model checkpoint", env_name("model"))]

# syntax=docker/dockerfile:1
# The separator service, one replica per container (one GPU each). Run behind a load balancer:
# docker-compose.yml (nginx) or docker/kubernetes/.
#
#   docker build -t textsep .                               CUDA torch (PyPI's Linux wheel)
#   docker build --build-arg TORCH_VARIANT=cpu -t textsep .  CPU-only torch, a much smaller image
#
# The bundled model is part of the installed package. The official AudioSep checkpoints are not in
# the image: mount a directory holding them at /checkpoints (read-only) and set
# TEXTSEP_MODEL=audiosep; the TEXTSEP_* paths below say which file is expected where.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ARG TORCH_VERSION=2.13.0
ARG TORCH_VARIANT=cuda
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first, from the index that has the wanted build (the project's plain `torch` requirement
# is then already met and pulls nothing else).
RUN case "$TORCH_VARIANT" in \
        cuda) index="" ;; \
        cpu) index=https://download.pytorch.org/whl/cpu ;; \
        *) echo "TORCH_VARIANT is cuda or cpu, not $TORCH_VARIANT" >&2; exit 1 ;; \
    esac; \
    pip install --no-cache-dir ${index:+--index-url "$index"} "torch==$TORCH_VERSION"
# Only what the package needs (.dockerignore keeps every other file out of the build context).
COPY pyproject.toml README.md /src/
COPY model /src/model
COPY service /src/service
RUN pip install --no-cache-dir /src

FROM python:${PYTHON_VERSION}-slim
# /cache/compile: where compiled model artifacts are kept (TEXTSEP_COMPILE_CACHE_DIR; compose and
# Kubernetes mount a volume there, so a restarted container does not compile again)
RUN useradd --system --create-home --uid 10001 textsep && mkdir -p /cache/compile && chown -R 10001 /cache
COPY --from=build /opt/venv /opt/venv
COPY --chmod=755 docker/probe.py /usr/local/bin/textsep-probe
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TEXTSEP_LOG_FORMAT=json \
    TEXTSEP_COMPILE_CACHE_DIR=/cache/compile \
    TEXTSEP_AUDIOSEP_CHECKPOINT=/checkpoints/audiosep_base_4M_steps.ckpt \
    TEXTSEP_CLAP_CHECKPOINT=/checkpoints/music_speech_audioset_epoch_15_esc_89.98.pt \
    TEXTSEP_CLAP_TOKENIZER_DIR=/checkpoints/roberta-base
USER 10001
WORKDIR /home/textsep
EXPOSE 8000
# Logs: one JSON object a line on stdout (uvicorn's, the application's and the access log), for the
# platform's log collector.
# Liveness: the process answers (it does while the model loads). Readiness is /readyz: compose and
# Kubernetes use it to decide when a replica gets traffic.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["textsep-probe", "/healthz"]
ENTRYPOINT ["textsep"]
CMD ["serve"]

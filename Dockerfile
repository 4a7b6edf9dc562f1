# syntax=docker/dockerfile:1
#
# Loanwatch worker image: two stages so the runtime image carries the venv and
# nothing used to build it.
#
#   docker build -t loanwatch .
#   docker run --rm -e LOANWATCH_KAFKA__BOOTSTRAP_SERVERS=broker:9092 loanwatch worker
#
# No compilers or -dev packages are installed on purpose: every native
# dependency (rocksdict, confluent-kafka with its bundled librdkafka,
# clickhouse-driver, orjson, river, numpy/pandas) ships manylinux wheels for
# CPython 3.11, so pip only unpacks wheels. If a build ever starts compiling,
# a pin in constraints.txt has lost its wheel: fix the pin, don't add gcc.
#
# Configuration is read only from LOANWATCH_* environment variables or a YAML
# file named by LOANWATCH_CONFIG_FILE (see docs/deploy.md); nothing is baked in.

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies first, from pyproject's ranges held to the tested pins, so that
# a source-only change reuses this (slow) layer.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install --constraint constraints.txt --requirement /tmp/requirements.txt

# The packages pyproject's [tool.setuptools.packages.find] includes; the
# deploy tests fail if one is added there and not here.
COPY config ./config
COPY rules ./rules
COPY models ./models
COPY streams ./streams
COPY sinks ./sinks
COPY api ./api
COPY reports ./reports
RUN pip install --constraint constraints.txt .


FROM python:3.11-slim AS runtime

# python:3.11-slim already has ca-certificates (TLS to Kafka, Redis and
# ClickHouse) and tzdata (LOANWATCH_TIME_ZONE is checked against it).
ENV PATH=/opt/venv/bin:$PATH \
    LOANWATCH_STATE_DIR=/var/lib/loanwatch/.state \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# A fixed numeric uid so orchestrators can verify runAsNonRoot and volume
# ownership is predictable. The working directory holds Faust's local table
# state (RocksDB); compose mounts a named volume on it.
RUN groupadd --system --gid 10001 loanwatch \
 && useradd --system --uid 10001 --gid loanwatch --home-dir /var/lib/loanwatch \
        --no-create-home --shell /usr/sbin/nologin loanwatch \
 && install -d -o loanwatch -g loanwatch -m 0750 /var/lib/loanwatch

COPY --from=build /opt/venv /opt/venv

WORKDIR /var/lib/loanwatch
USER 10001:10001

# Exec form, so SIGTERM reaches the worker and Faust can commit offsets on stop.
ENTRYPOINT ["loanwatch"]
CMD ["worker"]

# Dozor in a container. With Docker Compose: `docker compose up -d` (see compose.yaml and
# the README's "Docker" section). By hand:
#   docker build -t dozor .
#   docker run -d --name dozor -v dozor-data:/data \
#     -v "$PWD/config.toml:/data/config.toml:ro" -v "$PWD/rules:/data/rules:ro" \
#     -e TELEGRAM_BOT_TOKEN dozor
# /data holds the config (relative paths in it are relative to /data), the rules, the
# bundled samples and the SQLite store ([storage] path = "dozor.db": /data/dozor.db).
# No HEALTHCHECK here: /healthz exists only when [metrics] listen is set in the config;
# compose.yaml has one to switch on with it.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The package, installed as pyproject.toml describes it (bot/ and watchers/, not editable).
WORKDIR /build
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY watchers ./watchers
RUN pip install . && rm -rf /build

# A user without privileges owns /data (the store's folder, and so the volume there).
RUN useradd --system --uid 10001 --create-home --shell /usr/sbin/nologin dozor \
    && install -d -o dozor -g dozor /data
WORKDIR /data
# The shipped config, rules and samples as defaults (compose mounts yours over them).
COPY config.toml ./
COPY rules ./rules
COPY samples ./samples
USER dozor

# Exec form: Python is the process `docker stop` signals; on SIGTERM it stops polling,
# lets deliveries in flight finish and exits.
CMD ["python", "-m", "bot", "run", "--config", "/data/config.toml"]

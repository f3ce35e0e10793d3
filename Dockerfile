# syntax=docker/dockerfile:1
# The base image is pinned to an exact release (bump deliberately, both stages together).
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# Build stage: build the wheel from pyproject.toml (the same file `make` installs from).
# `make test` builds and runs this same wheel outside Docker (scripts/wheel-smoke.sh).
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY connectors ./connectors
RUN python -m pip install --no-cache-dir --upgrade pip build \
 && python -m build --wheel --outdir /dist

# Runtime stage: only the installed wheel, run as an unprivileged user.
FROM ${PYTHON_IMAGE} AS runtime
# Production by default: start-up refuses the published placeholder secrets, so pass
# GG_SECRET_KEY and GG_ENCRYPTION_KEYS (e.g. --env-file); GG_ENV=development for a trial.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GG_ENV=production \
    GG_HOST=0.0.0.0 \
    GG_PORT=8000 \
    GG_DATABASE_URL=sqlite:////data/growthguard.db
RUN groupadd --system growthguard \
 && useradd --system --gid growthguard --home-dir /data --create-home growthguard
COPY --from=build /dist/*.whl /tmp/
# caldav -> niquests -> urllib3-future: built from source with URLLIB3_NO_OVERRIDE=1 it
# installs beside urllib3 instead of overwriting it on every start (see the Makefile).
RUN URLLIB3_NO_OVERRIDE=1 python -m pip install --no-cache-dir --no-binary urllib3-future \
      /tmp/*.whl && rm /tmp/*.whl
USER growthguard
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD ["sh", "-c", "growthguard migrate && exec growthguard serve"]

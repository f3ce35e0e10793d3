# syntax=docker/dockerfile:1
# Build stage: build the wheel from pyproject.toml (the same file `make` installs from).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY connectors ./connectors
RUN python -m pip install --no-cache-dir --upgrade pip build \
 && python -m build --wheel --outdir /dist

# Runtime stage: only the installed wheel, run as an unprivileged user.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
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

# The embedded eda-sandbox (LocalStack core in host mode + our process executor) in one
# image. Lambda environments run as processes inside this container: no Docker socket.
# Everything is installed at build time; the container downloads nothing when it runs.
#
# Kept compatible with Docker's legacy builder (no heredocs, no COPY --chmod), because
# testcontainers/docker-py builds with it (src/eda_sandbox/emulator/docker.py).

# Both bases on the same Debian release, so the python3.12 copied below finds the shared
# libraries (libssl, libffi, libsqlite3, ...) it was linked against.
ARG DEBIAN_SUITE=trixie

# Only for its interpreter: the reference app has python3.12 and python3.13 functions.
FROM python:3.12-slim-${DEBIAN_SUITE} AS python312

FROM python:3.13-slim-${DEBIAN_SUITE}

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# tini as PID 1: forwards docker stop's SIGTERM to LocalStack's process group and reaps
# the orphans Lambda environments can leave (Python as PID 1 does neither). Unpinned:
# Debian's point releases replace the exact version, and the suite is pinned above.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

# The official images build CPython with --enable-shared and an rpath of $ORIGIN/../lib,
# so the interpreter, its stdlib and libpython are all it needs. Not the rest of
# /usr/local: that would overwrite 3.13's python3/pip/libpython3.so.
COPY --from=python312 /usr/local/bin/python3.12 /usr/local/bin/python3.12
COPY --from=python312 /usr/local/lib/python3.12 /usr/local/lib/python3.12
COPY --from=python312 /usr/local/lib/libpython3.12.so.1.0 /usr/local/lib/libpython3.12.so.1.0
# Fail the build here, not at the first python3.12 invocation, if a library is missing.
RUN ldconfig \
 && python3.12 -c "import ssl, sqlite3, ctypes, zlib, bz2, lzma, pyexpat, uuid, venv" \
 && python3.12 --version

WORKDIR /opt/eda-sandbox

# Dependencies first, against a stub package (and the empty README pyproject names), so
# editing src/ or README.md does not reinstall them.
COPY pyproject.toml constraints.txt ./
RUN mkdir -p src/eda_sandbox \
 && touch src/eda_sandbox/__init__.py README.md \
 && pip install -c constraints.txt '.[emulator]' \
 && rm -rf src build README.md

COPY README.md ./
COPY src/ src/
RUN pip install --no-deps --force-reinstall . \
 && rm -rf build src/*.egg-info \
 && python -c "import localstack, eda_sandbox.executor.plugin"

# Lambda runtime environments, built now (they need PyPI) into the image. Only runtimes
# whose interpreter is in the image can exist: python3.13 (the base) and python3.12
# (copied above); python3.10/3.11 would need their interpreters copied the same way.
# nodejs22.x (the reference app's Node functions) brings its own Node from PyPI and its
# SDK from npm. The entrypoint links $EDA_SANDBOX_STATE_DIR/runtimes to this directory.
ENV EDA_SANDBOX_CONSTRAINTS=/opt/eda-sandbox/constraints.txt \
    EDA_SANDBOX_IMAGE_RUNTIMES=/opt/eda-sandbox/runtimes
RUN EDA_SANDBOX_STATE_DIR=/opt/eda-sandbox eda-sandbox runtimes python3.13 python3.12 nodejs22.x

COPY docker/entrypoint.py docker/healthcheck.py docker/

# A fixed numeric uid, so orchestrators can check runAsNonRoot without /etc/passwd.
RUN groupadd --system --gid 10001 sandbox \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/sandbox sandbox \
 && mkdir -p /var/lib/eda-sandbox \
 && chown 10001:10001 /var/lib/eda-sandbox

# Inside the container LocalStack listens on every interface so the published port
# reaches it; docker-compose.yml publishes it on the host's 127.0.0.1 only.
ENV EDA_SANDBOX_HOST=0.0.0.0 \
    EDA_SANDBOX_PORT=4566 \
    EDA_SANDBOX_STATE_DIR=/var/lib/eda-sandbox
VOLUME ["/var/lib/eda-sandbox"]
USER 10001:10001
EXPOSE 4566

HEALTHCHECK --interval=5s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "/opt/eda-sandbox/docker/healthcheck.py"]

ENTRYPOINT ["/usr/bin/tini", "-g", "--", "python", "/opt/eda-sandbox/docker/entrypoint.py"]

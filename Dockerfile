# syntax=docker/dockerfile:1
# IssuePilot's service and workers, `issuepilot serve` and `issuepilot worker`
# (docs/serve.md); compose.yaml runs both beside Redis.
#
# The dependencies are exactly those of requirements-serve.lock, hashes checked. IssuePilot
# itself is not installed (that would resolve and fetch a build backend): a .pth file puts
# its source on the path, as the action does. The image runs as an unprivileged user.
ARG PYTHON=python:3.12-slim-bookworm

FROM ${PYTHON} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements-serve.lock /tmp/requirements-serve.lock
RUN python -m venv /opt/issuepilot \
 && /opt/issuepilot/bin/pip install --require-hashes --no-deps -r /tmp/requirements-serve.lock
COPY pyproject.toml LICENSE /opt/issuepilot/app/
COPY src /opt/issuepilot/app/src
RUN site=$(/opt/issuepilot/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') \
 && echo /opt/issuepilot/app/src > "$site/issuepilot.pth" \
 && /opt/issuepilot/bin/python -m compileall -q /opt/issuepilot/app/src \
 && /opt/issuepilot/bin/python -m issuepilot --version

FROM ${PYTHON}
# Workers check repositories out and read the agent's change back with git; their sandbox
# (sandbox: user) makes a user per step with useradd and drops to it with setpriv, both
# already in the base image.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /home/issuepilot issuepilot
COPY --from=build /opt/issuepilot /opt/issuepilot
ENV PATH=/opt/issuepilot/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER issuepilot
WORKDIR /home/issuepilot
EXPOSE 8080
ENTRYPOINT ["python", "-m", "issuepilot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]

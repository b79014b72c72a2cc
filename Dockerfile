# The app image of compose.yaml: the ingest worker, the API, the simulated meters, and the init
# service that writes the broker's accounts. The broker itself is the official eclipse-mosquitto
# image. Builds with no network but PyPI (no OS packages are installed).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# uid and gid 1883 are those of the `mosquitto` user of the official eclipse-mosquitto image:
# the password file and ACL that the init service writes into the broker's config volume are
# then the broker's own files (Mosquitto warns about account files owned by anyone else), and
# the secrets it writes into the data volume are readable by every app service.
RUN groupadd --system --gid 1883 energia \
 && useradd --system --uid 1883 --gid energia --home-dir /app --no-create-home --shell /usr/sbin/nologin energia

WORKDIR /app
COPY pyproject.toml README.md mosquitto.conf ./
COPY core ./core
COPY meter ./meter
COPY ingest ./ingest
COPY api ./api
COPY broker ./broker
RUN pip install . \
 && mkdir -p /data /mosquitto/config \
 && chown energia:energia /data /mosquitto/config

USER energia
ENV ENERGY_DATA_DIR=/data
EXPOSE 8000
CMD ["python", "-m", "api", "--host", "0.0.0.0", "--port", "8000"]

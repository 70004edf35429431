# The cloudroutes image: docker build -t cloudroutes . (README: Running it unattended).
# Only what a wheel needs is copied (.dockerignore keeps the rest out of the context).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY cloudroutes/ cloudroutes/
COPY providers/ providers/
# EXTRAS=[sim] adds the embedded EC2 cloud (sim aws, demo); the default image has only the product.
ARG EXTRAS=""
# The project itself, from the context: there is no version to pin.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".${EXTRAS}" \
    && rm -rf /src \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin cloudroutes

# A numeric user, so Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /
ENTRYPOINT ["cloudroutes"]
CMD ["--help"]

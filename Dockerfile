# The bonito-logs package, for the `api` and `worker` services of docker-compose.yml.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bonito_logs ./bonito_logs
RUN pip install --no-cache-dir . \
    && useradd --system --create-home bonito \
    && mkdir -p /var/lib/bonito \
    && chown bonito /var/lib/bonito

USER bonito
ENV BONITO_HOME=/var/lib/bonito
EXPOSE 8000
CMD ["bonito-logs", "--help"]

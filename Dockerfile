# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --upgrade pip
COPY pyproject.toml README.md ./
COPY src ./src
COPY migrations ./migrations
RUN /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim AS runtime
RUN useradd --system --uid 10001 --home-dir /var/lib/pgo --create-home pgo
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PGO_DATA_DIR=/var/lib/pgo/data \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER pgo
WORKDIR /var/lib/pgo
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["pgo-service"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

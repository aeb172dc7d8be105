# One image for every Brandrelay process; the command picks the role:
#   api (default)      uvicorn api.app:create_app --factory --no-proxy-headers --host 0.0.0.0 --port 8000
#   worker             python worker.py [--queue NAME]
#   migrations         python -m scripts.migrate
#   search attributes  python -m core.temporal_setup
# Configuration comes from the environment only (see core/settings.py); no .env is copied.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 brandrelay \
    && useradd --system --uid 10001 --gid brandrelay --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin brandrelay

WORKDIR /app

# Dependencies first, so code changes do not reinstall them. Every pinned package ships a
# manylinux wheel for CPython 3.11, so no compiler is needed.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

# The project, listed explicitly: a plain `COPY . .` would also take .venv/, .data/, .git/ and
# a developer's .env (secrets). tests/test_compose.py fails when a top-level package is missing
# here. The code stays root-owned and read-only for the app user; only DATA_DIR is writable.
COPY alembic.ini registry.py worker.py ./
COPY migrations/ ./migrations/
COPY domain/ ./domain/
COPY approvals/ ./approvals/
COPY core/ ./core/
COPY models/ ./models/
COPY services/ ./services/
COPY content/ ./content/
COPY i18n/ ./i18n/
COPY media/ ./media/
COPY mail/ ./mail/
COPY storage/ ./storage/
COPY printing/ ./printing/
COPY workflows/ ./workflows/
COPY activities/ ./activities/
COPY api/ ./api/
COPY scripts/ ./scripts/
# Bytecode at build time: PYTHONDONTWRITEBYTECODE keeps the processes from writing any, and the
# workflow sandbox re-imports the workflow modules for every workflow it runs, compiling them
# from source each time when no .pyc exists (core/bytecode.py).
RUN python -m compileall -q /app
RUN mkdir -p /app/.data && chown brandrelay:brandrelay /app/.data

USER brandrelay

EXPOSE 8000

# Exec form: uvicorn (and `python worker.py` when it is the command) is PID 1 and receives
# SIGTERM directly, so both shut down gracefully on `docker compose stop`. --no-proxy-headers:
# the API reads X-Forwarded-For itself, only as far as TRUSTED_PROXY_HOPS allows.
CMD ["uvicorn", "api.app:create_app", "--factory", "--no-proxy-headers", "--host", "0.0.0.0", "--port", "8000"]

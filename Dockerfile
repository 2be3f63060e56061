# One image for the web app (gunicorn), the worker, the migration job and the Amazon stand-in;
# docker-compose.yml picks each one's command. No HEALTHCHECK here: the image is shared, and
# docker-compose.yml gives the web app (and the stand-in) theirs.
FROM python:3.11-slim

# PYTHONPATH: every process imports the source tree in /app (where migrations/ sits beside web/),
# never the copy `pip install .` leaves in site-packages.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 app

WORKDIR /app

# The pinned dependencies first (gunicorn among them), so a change to the source reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The source with migrations/, so `flask --app web db upgrade` works from /app.
COPY . .
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info

USER app
# 8000 the web app, 8100 the stand-in, 9464 the worker's metrics (WORKER_METRICS_ADDRESS)
EXPOSE 8000 8100 9464

CMD ["gunicorn", "--workers", "2", "--threads", "4", "--bind", "0.0.0.0:8000", "--graceful-timeout", "30", "web:create_app()"]

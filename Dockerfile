# One image for the web app, the worker and the Amazon stand-in; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 app \
    && mkdir /data \
    && chown app:app /data

WORKDIR /app
COPY . .
# The processes run from this source tree (migrations/ is not part of the package), so the
# install is for dependencies and console scripts; its build leftovers are not needed.
RUN pip install . \
    && rm -rf build *.egg-info

USER app
# SQLite app database on the /data volume unless DATABASE_URL says otherwise.
ENV DATABASE_URL=sqlite:////data/app.db
EXPOSE 8000 8100

# The Flask development server for now; a production WSGI server comes later.
CMD ["flask", "--app", "web", "run", "--host", "0.0.0.0", "--port", "8000"]

# One image for every part of the platform: the web (uvicorn, ASGI), the Celery workers, the one beat and
# the migrations. Settings come from the environment (deploy/odr.env.example); nothing secret is built in.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# libmagic: the evidence vault's type sniffing (python-magic).
RUN apt-get update && apt-get install -y --no-install-recommends libmagic1 && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/odr/app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# Translations compiled and static files collected at build time (no secrets needed for either).
RUN pybabel compile --domain django --directory locale \
 && SECRET_KEY=build-only DEBUG=0 python manage.py collectstatic --noinput -v0 \
 && useradd --system --uid 10001 --home /srv/odr odr \
 && mkdir -p /srv/odr/evidence && chown -R odr /srv/odr/evidence

USER odr
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["uvicorn", "odr.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "4", "--proxy-headers", "--forwarded-allow-ips", "*"]

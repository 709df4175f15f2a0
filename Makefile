# make run   -- create .venv if missing, install, migrate, seed the demo, serve on http://127.0.0.1:8000
# make test  -- create .venv if missing, install, run the whole suite
# make bench -- run the benchmarks in bench/ and print their figures
# make lint  -- ruff check and ruff format --check

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test bench lint format install migrate clean messages translations

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP) messages

# Compile the translation catalogues with Babel (pure Python: no GNU gettext needed to run or test).
messages: $(STAMP)
	$(BIN)/pybabel compile --domain django --directory locale --statistics 2>&1 | grep -v "^$$" || true

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py seed_demo
	ODR_EMBEDDED_SWEEP=$${ODR_EMBEDDED_SWEEP:-1} $(BIN)/uvicorn odr.asgi:application --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/run.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-extract the strings to translate (needs GNU gettext: apt-get install gettext).
translations: install
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=tests --ignore=bench \
		--ignore=staticfiles --no-location --no-obsolete

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache

# Two commands do all the set-up:  make labs  (run the labs)  and  make test  (run the tests).
# Both create or reuse .venv and install what is missing: torch first (TORCH_SPEC; the CPU
# build here), then the kit. On a CUDA machine: make labs TORCH_SPEC="torch --index-url ..."
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
SHARED_DATA := $(wildcard ../shared/dialogsum)

# Quiet, offline-safe settings for tests and nbval: no progress bars, no library chatter.
QUIET := TQDM_DISABLE=1 HF_DATASETS_DISABLE_PROGRESS_BARS=1 HF_HUB_DISABLE_PROGRESS_BARS=1 \
	TRANSFORMERS_VERBOSITY=error TRANSFORMERS_NO_ADVISORY_WARNINGS=1 TOKENIZERS_PARALLELISM=false \
	PYTHONWARNINGS=ignore MPLBACKEND=agg
SHARED_DATASET := $(if $(SHARED_DATA),LABS_DATASET=$(abspath $(SHARED_DATA)))
# A local copy of DialogSum next to the kit (as in CI) is used offline unless LABS_DATASET is set.
LOCAL_DATA := $(if $(LABS_DATASET),,$(SHARED_DATASET))
# CPU threads spin briefly, then sleep, while they wait (labs_helpers/threads.py: as fast alone, far
# fewer very slow steps beside another job); an OMP_WAIT_POLICY or GOMP_SPINCOUNT of yours wins.
THREADS := $(if $(OMP_WAIT_POLICY)$(GOMP_SPINCOUNT),,GOMP_SPINCOUNT=10000)
# fp32 arithmetic in tests: checked outputs must not depend on whether the CI machine has native bf16.
TEST_ENV := $(QUIET) $(THREADS) LABS_PROFILE=offline LABS_STANDIN=instant LABS_AUTOCAST=off $(SHARED_DATASET)

.PHONY: labs test ui-test lab student grade course bench install clean-notebooks check-notebooks

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "$(TORCH_SPEC)"
	$(PY) -m pip install -e ".[test]"
	touch $@

install: $(VENV)/.installed

labs: $(VENV)/.installed
	$(LOCAL_DATA) $(PY) -m labs_helpers.run_labs

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(TEST_ENV) $(PY) -m pytest -p no:cacheprovider tests notebooks \
		--nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600

# JupyterLab in a real headless Chromium: every notebook opened, run and looked at (README, "Tests and CI").
# The first run installs JupyterLab and Playwright (driver only) into .venv and, if missing, Debian's chromium.
ui-test: $(VENV)/.installed
	$(TEST_ENV) $(PY) tools/ui_test.py

# The student edition: solutions replaced by stubs, written to build/student/.
student: $(VENV)/.installed
	$(PY) -m labs_helpers.instructor.student_edition --out build/student

# Grade a folder of submitted notebooks offline (instant stand-in), each in its own sandbox (README, "For instructors"):
# runs/grade-<timestamp>/gradebook.csv, feedback/ and executed/. GRADE_ARGS="--time-limit 300" and the like pass on.
grade: $(VENV)/.installed
	@test -n "$(SUBMISSIONS)" || { echo "make grade: name the folder, e.g. make grade SUBMISSIONS=submitted/" >&2; exit 2; }
	$(QUIET) $(LOCAL_DATA) $(PY) -m labs_helpers.instructor.grade "$(SUBMISSIONS)" $(GRADE_ARGS)

# An nbgrader course folder (COURSE, default course/): nbgrader_config.py and source/<notebook>/ (README, "For instructors").
COURSE ?= course
course: $(VENV)/.installed
	$(PY) -m labs_helpers.instructor.nbgrader_course "$(COURSE)"

# Throughput benchmarks (minutes on 2 CPU cores): prints a table, writes benchmarks/results.json.
bench: $(VENV)/.installed
	$(QUIET) $(LOCAL_DATA) $(PY) benchmarks/run.py

lab: $(VENV)/.installed
	$(PY) -c "import jupyterlab" 2>/dev/null || $(PY) -m pip install -e ".[lab]"
	$(THREADS) $(VENV)/bin/jupyter lab notebooks/

# For authors: execute notebooks under the test settings and keep outputs only in checked cells.
clean-notebooks: $(VENV)/.installed
	$(TEST_ENV) $(PY) tools/nbtool.py fill notebooks/*.ipynb

check-notebooks: $(VENV)/.installed
	$(PY) tools/nbtool.py check notebooks/*.ipynb

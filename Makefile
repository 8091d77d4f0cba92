# Every target creates .venv from requirements.txt first, so a fresh clone needs only `make chat`
# or `make test`; `make test` (and bench-beam) also install the [beam] extra (requirements-beam.txt).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BEAM_STAMP := $(VENV)/.installed-beam
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONHASHSEED ?= 0

CORPUS := build/corpus
SHIPPED_CORPUS := build/corpus-shipped
RUN := build/warehouse
BUNDLE := saved_models/warehouse
BUNDLE_FILES := config.json tokenizer.model model.weights.h5 training_log.json faithfulness.json \
	record_order.json catalog_hints.json

.PHONY: setup chat test lint format bench bench-train bench-decode bench-convert bench-export bench-product bench-beam corpus corpus-shipped train-default \
	evaluate-default clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Apache Beam for `convert --runner` (the [beam] extra), pinned in requirements-beam.txt; it
# moves protobuf to 6.x, which TensorFlow accepts. `make chat` does not need it.
$(BEAM_STAMP): $(STAMP) requirements-beam.txt
	$(PY) -m pip install --quiet -r requirements-beam.txt
	@touch $(BEAM_STAMP)

chat: $(STAMP)
	$(PY) -m assistant chat

# Two pytest-xdist workers: most of a test's time is one thread (tracing, XLA compiles,
# Python), so the two cores run two tests at once.
test: $(STAMP) $(BEAM_STAMP)
	$(PY) -m pytest -q -n 2

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: bench-train bench-decode bench-convert

# Both training paths side by side on the corpus (today's and XLA over fixed padded lengths).
bench-train: corpus
	$(PY) -m training.benchmarks.train --batches 200 --data $(CORPUS)/train.jsonl

# keras-hub is a benchmark-only extra (its BeamSampler is the comparison); not in requirements.
bench-decode: $(STAMP)
	@$(PY) -c "import keras_hub" 2>/dev/null || $(PY) -m pip install --quiet keras-hub==0.32.0
	$(PY) -m training.benchmarks.decode

# Converts 10k and 100k generated fault lines (beam 5) in subprocesses: lines/s and peak RSS,
# against raw Assistant.reply_batch throughput measured in the same run (long: ~20-40 min).
bench-convert: $(STAMP)
	$(PY) -m training.benchmarks.convert

# Export equality with the runtime on the test split, then load / first-answer / latency.
bench-export: corpus
	$(PY) -m training.benchmarks.export --compare --data $(CORPUS)/test.jsonl
	$(PY) -m training.benchmarks.export --speed

# The real workload on the shipped bundle (issue 16): a seeded warehouse log through the product
# path, greedy, the export and `convert` (10k and 100k lines, with and without the reply cache;
# ARGS=--million adds 1M lines), each figure against its target (long: tens of minutes).
bench-product: corpus
	$(PY) -m training.benchmarks.product $(ARGS)

# `convert` against `convert --runner DirectRunner` (Apache Beam) on the seeded warehouse log
# with the shipped bundle, in subprocesses: lines/s of each, peak RSS, equal replies. Sizes and
# Beam options: ARGS="--lines 2000 --beam-option=--direct_num_workers=2".
bench-beam: $(BEAM_STAMP)
	$(PY) -m training.benchmarks.beam $(ARGS)

corpus: $(STAMP)
	$(PY) -m training build-corpus --out $(CORPUS)

# The corpus the shipped bundle was trained on (warehouse_notes.md, "The shipped bundle"): a
# train split of the lines the model reads whole at run time (one record per line: the
# runtime answers a line of several records record by record), code-list questions 5x,
# realistic-input variants, small talk and follow-ups with their context.
corpus-shipped: $(STAMP)
	$(PY) -m training build-corpus --out $(SHIPPED_CORPUS) --one-record-lines --codes-weight 5 \
		--train-shares 0.24,0,0.13,0.30,0.09,0.24 --hints --no-question-hints

# Builds the corpus, trains the reference model (seeded; resumes if interrupted), evaluates it
# on the test split and copies the bundle (without checkpoints and logs) to saved_models/.
train-default: corpus-shipped
	$(PY) -m training train --data $(SHIPPED_CORPUS) --out $(RUN) --config assistant/domains/warehouse/configs/warehouse.yaml
	mkdir -p $(BUNDLE)
	cp $(addprefix $(RUN)/,$(BUNDLE_FILES)) $(BUNDLE)/
	$(MAKE) evaluate-default

# Scores the shipped bundle on its corpus's test split (each step of its decoding) and on the
# realistic-input set (per spelling family, against the canonical spelling's reply), and
# regenerates its MODEL_CARD.md from config.json, training_log.json, the two evaluations and
# the notes file.
evaluate-default: corpus-shipped
	rm -rf build/export-evaluate
	$(PY) -m assistant export --model $(BUNDLE) --out build/export-evaluate
	$(PY) -m training evaluate --model $(BUNDLE) --data $(SHIPPED_CORPUS)/test.jsonl --compare \
		--export build/export-evaluate --json $(BUNDLE)/evaluation.json
	$(PY) -m training build-realistic --out $(SHIPPED_CORPUS)/realistic.jsonl
	$(PY) -m training evaluate-variants --model $(BUNDLE) --data $(SHIPPED_CORPUS)/realistic.jsonl \
		--json $(BUNDLE)/evaluation_variants.json
	$(PY) -m training evaluate-variants --model $(BUNDLE) --data $(SHIPPED_CORPUS)/realistic.jsonl \
		--no-rerank --json $(BUNDLE)/evaluation_variants_model_alone.json
	$(PY) -m training model-card --model $(BUNDLE) --notes assistant/domains/warehouse/configs/warehouse_notes.md

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info

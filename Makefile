# The README's two commands: `make demo` and `make test`. Both create or reuse .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Every install goes through the constraints file, which pins the local CPU torch wheel.
PIP_INSTALL := $(PIP) install -q -c constraints.txt
# Installs use uv: it downloads in parallel and compiles no bytecode up front (pip spent about
# two CPU minutes compiling torch's sources). uv does not read pip's configuration, so pip's
# find-links (where the local CPU torch wheel lies) are handed to it; pip is the fallback.
UV := $(VENV)/bin/uv
FIND_LINKS := $(shell python3 -m pip config get global.find-links 2>/dev/null)
UV_INSTALL := $(UV) pip install -q --python $(PY) -c constraints.txt \
	$(addprefix --find-links ,$(FIND_LINKS))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FMNIST_DIR := /usr/share/datasets/fashion-mnist

.PHONY: install demo test test-slow test-ray lint fashion-mnist docs clean \
        bench-long-tail bench-long-tail-budget bench-long-tail-domain-shift \
        bench-long-tail-dpmpp bench-long-tail-domain-shift-dpmpp bench-long-tail-heldout \
        bench-long-tail-domain-shift-budget bench-long-tail-sde bench-long-tail-per-class bench-long-tail-wide bench-groups \
        bench-tabular check-long-tail check-groups

# The package alone (what the demo needs), then the test extras on top.
$(VENV)/.installed-core: pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	test -x $(UV) || $(PIP) install -q --no-compile uv || true
	$(UV_INSTALL) -e . || $(PIP_INSTALL) --no-compile -e .
	touch $@

$(VENV)/.installed: $(VENV)/.installed-core
	$(UV_INSTALL) -e ".[test]" || $(PIP_INSTALL) --no-compile -e ".[test]"
	touch $@

install: $(VENV)/.installed

fashion-mnist:
	@test -f $(FMNIST_DIR)/train-images-idx3-ubyte.gz || \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist)

demo: $(VENV)/.installed-core fashion-mnist
	$(VENV)/bin/synaug demo

test: install
	$(VENV)/bin/ruff check synaug_learn tests benchmarks examples
	$(VENV)/bin/pytest -q -m "not slow and not ray"

test-slow: install
	$(VENV)/bin/pytest -q -m slow

test-ray: install
	$(PIP_INSTALL) -e ".[test,ray]"
	$(VENV)/bin/pytest -q -m ray

# One command per benchmark, from a fresh clone: the commands of the committed results
# (about an hour each on 2 CPU cores; they overwrite benchmarks/results/NAME.{md,json}).
# long_tail runs the validated protocol (issue 15): every (seed, method) result is stored under
# benchmarks/results/long_tail_parts/ and skipped when it is there (an interrupted run resumes);
# generated rows and in-domain generators are cached in benchmarks/.work/long_tail. Two niced
# lanes on 2 CPU cores (the in-domain generator trains 4176 steps, 32-100 min a seed by the machine),
# ~1.5-4 h, then the merge.
LT := nice -n 10 $(PY) benchmarks/long_tail.py --validation 0.2 --threads 1 \
	--parts benchmarks/results/long_tail_parts --cache-dir benchmarks/.work/long_tail
# Rows that joined the benchmark's table (long_tail.ORDER) after a result was committed: its
# target leaves them out, or the merge would add them (and could change the row chosen on
# validation); tests/test_benchmark_make_targets.py checks every target against its results.
REGEN_ROWS := synaug_pretrained_regen synaug_pretrained_regen_mixup_retrain_resampled
LATER_DPMPP := synaug_pretrained_domain_mixup synaug_pretrained_domain_mixup_retrain_resampled \
	synaug_pretrained_two_stage $(REGEN_ROWS)
LATER_LT := synaug_pretrained_mixup_crt synaug_pretrained_adabn \
	real_fill_mixup_retrain_resampled $(LATER_DPMPP)
SHIFT_ADABN := synaug_shifted_adabn synaug_shifted_mixup_adabn_crt
bench-long-tail: install fashion-mnist
	$(LT) --seed-list 0 1 --methods indomain & \
	($(LT) --exclude indomain $(LATER_LT) && $(LT) --seed-list 2 --methods indomain); wait
	$(LT) --merge

# The key rows at 1,000 and 3,000 optimiser steps (350 is in long_tail.json), each its own
# results name; reuses the fills cached by bench-long-tail. ~3 h on 2 CPU cores (a
# 1,000-step net takes ~5 min on one core, a 3,000-step one ~15).
bench-long-tail-budget: install fashion-mnist
	$(LT) --train-steps 1000 --name long_tail_budget_1000 --methods key & \
	$(LT) --train-steps 3000 --name long_tail_budget_3000 --methods key; wait
	$(LT) --name long_tail_budget_1000 --merge
	$(LT) --name long_tail_budget_3000 --merge

# The README's main long-tail table: the shipped generator sampled with its own default,
# DPM-Solver++ at 10 guided steps. Its SynAug rows and the in-domain ones (the in-domain
# generators cached by bench-long-tail: run that first), merged with bench-long-tail's rows that
# use no generator; then the key rows at 1,000 and 3,000 optimiser steps, each with real_fill
# (~2 h on two lanes).
LTD := $(LT) --scheduler dpm++
LTD_1000 := $(LTD) --train-steps 1000 --name long_tail_dpmpp_budget_1000
LTD_3000 := $(LTD) --train-steps 3000 --name long_tail_dpmpp_budget_3000
bench-long-tail-dpmpp: install fashion-mnist
	$(LTD) --name long_tail_dpmpp --methods pretrained indomain --exclude $(LATER_DPMPP) \
		--seed-list 0 1 & \
	$(LTD) --name long_tail_dpmpp --methods pretrained indomain --exclude $(LATER_DPMPP) \
		--seed-list 2; wait
	$(LTD) --name long_tail_dpmpp --merge --reuse long_tail
	$(LTD_1000) --methods key real_fill --exclude balanced_softmax & \
	$(LTD_3000) --methods key real_fill --exclude balanced_softmax; wait
	$(LTD_1000) --merge --reuse long_tail_budget_1000
	$(LTD_3000) --merge --reuse long_tail_budget_3000

# The domain-shifted generator fashion-mnist-small-shifted: its fills and remedies (~30 min a
# seed, two lanes), merged with the generator-free rows of bench-long-tail (run that first: the
# same split and settings, so they are not trained twice).
bench-long-tail-domain-shift: install fashion-mnist
	$(LT) --domain-shift --methods shifted --exclude $(SHIFT_ADABN) --seed-list 0 1 & \
	$(LT) --domain-shift --methods shifted --exclude $(SHIFT_ADABN) --seed-list 2; wait
	$(LT) --domain-shift --merge --reuse long_tail

# The same with the shifted generator's own sampler, DPM-Solver++ at 10 guided steps (~25 min a
# seed on one lane)
bench-long-tail-domain-shift-dpmpp: install fashion-mnist
	$(LTD) --domain-shift --name long_tail_domain_shift_dpmpp --methods shifted --seed-list 0 1 & \
	$(LTD) --domain-shift --name long_tail_domain_shift_dpmpp --methods shifted --seed-list 2; wait
	$(LTD) --domain-shift --name long_tail_domain_shift_dpmpp --merge --reuse long_tail

# Every choice on a balanced held-out validation set (100 real rows per class from outside the
# split and every pool) instead of the carve, on fresh seeds 3-5: the in-distribution rows
# (~40 min on two lanes, and ~9 min a seed for pool_pretrain), then the shifted generator's (~21 min on three), which reuse the
# generator-free rows of the first run.
LTH := $(LTD) --heldout-validation 100
LTH_IN := $(LTH) --name long_tail_dpmpp_heldout
LTH_DS := $(LTH) --domain-shift --name long_tail_domain_shift_dpmpp_heldout --methods shifted
# ... and the domain-shift key rows at 1,000 optimiser steps, where the carve met both goals
# narrowly with a fragile choice (~28 min on three lanes, the fills cached by the run before)
LTH_DSB = $(LTH) --domain-shift --train-steps 1000 \
	--name long_tail_domain_shift_dpmpp_heldout_budget_1000 --methods $(DSB_ROWS)
bench-long-tail-heldout: install fashion-mnist
	($(LTH_IN) --seed-list 3 --exclude indomain $(REGEN_ROWS) && \
	 $(LTH_IN) --seed-list 5 --methods pretrained --exclude $(REGEN_ROWS)) & \
	($(LTH_IN) --seed-list 4 --exclude indomain $(REGEN_ROWS) && \
	 $(LTH_IN) --seed-list 5 --exclude indomain pretrained); wait
	$(LTH_IN) --merge
	$(LTH_DS) --seed-list 3 & $(LTH_DS) --seed-list 4 & $(LTH_DS) --seed-list 5; wait
	$(LTH_DS) --merge --reuse long_tail_dpmpp_heldout
	$(LTH_DSB) --seed-list 3 & $(LTH_DSB) --seed-list 4 & $(LTH_DSB) --seed-list 5; wait
	$(LTH_DSB) --merge

# The SynAug rows of bench-long-tail-heldout with the best sampler measured for the fill
# (SDE-DPM-Solver++ at 40 guided steps, 80 passes: generation_speed_sde), and the chosen
# recipe on the real fill; the other generator-free rows taken from that run (~50 min on two
# lanes)
LTS := $(LT) --heldout-validation 100 --scheduler sde-dpm++ --steps 40 \
	--name long_tail_sdedpmpp40_heldout --methods pretrained real_fill_mixup_retrain_resampled \
	--exclude synthetic_only
bench-long-tail-sde: install fashion-mnist
	($(LTS) --seed-list 3 && $(LTS) --seed-list 5) & $(LTS) --seed-list 4; wait
	$(LTS) --merge --reuse long_tail_dpmpp_heldout

# Where the SDE run's gap sits: two of its SynAug rows (domain Mixup, and the real rows redrawn,
# each + head re-trained on the balanced filled set) against real_fill, re-fitted per seed (the
# run's cached fill; ~6 min each on one core after bench-long-tail-sde): per-class recall and
# confusions
LTPC := nice -n 10 $(PY) benchmarks/long_tail_per_class.py \
	--like benchmarks/results/long_tail_sdedpmpp40_heldout.json
bench-long-tail-per-class: install fashion-mnist
	$(LTPC) --methods synaug_pretrained_domain_mixup_retrain_resampled real_fill & \
	$(LTPC) --methods synaug_pretrained_regen_mixup_retrain_resampled real_fill \
		--name long_tail_sdedpmpp40_heldout_per_class_regen; wait

# A wider generator: UNet blocks 48 96 96 (2.5 M parameters, 2.25x the shipped model's), the
# same pool, 4176 steps, learning rate, batch and seed (~80 min on two CPU threads); then the
# SynAug rows of bench-long-tail-heldout with its fill by the shipped sampler (DPM-Solver++ at
# 10 guided steps), the generator-free rows taken from that run (~35 min on two lanes)
WIDE48 := benchmarks/.work/fashion-mnist-wide48
LTW := $(LTH) --pretrained $(WIDE48) \
	--name long_tail_wide48_heldout --methods pretrained --exclude synthetic_only $(REGEN_ROWS)
bench-long-tail-wide: install fashion-mnist
	nice -n 10 $(PY) scripts/pretrain_generator.py --block-out-channels 48 96 96 --steps 4176 \
		--minutes 600 --threads 2 --out $(WIDE48)
	($(LTW) --seed-list 3 && $(LTW) --seed-list 5) & $(LTW) --seed-list 4; wait
	$(LTW) --merge --reuse long_tail_dpmpp_heldout

# The domain-shift key rows at 1000 optimiser steps on five seeds, and AdaBN with and without
# Mixup + cRT (roughly twice the ~35 min the first three seeds took on two lanes; fills cached)
DSB = $(LT) --domain-shift --train-steps 1000 --name long_tail_domain_shift_budget_1000
DSB_SYNAUG = synaug_shifted synaug_shifted_domain_mixup_crt synaug_shifted_mixup_crt \
	synaug_shifted_two_stage
DSB_PEERS = balanced_softmax ce_retrain crt
DSB_ROWS = $(DSB_SYNAUG) $(SHIFT_ADABN) $(DSB_PEERS)
bench-long-tail-domain-shift-budget: install fashion-mnist
	($(DSB) --seed-list 0 --methods $(DSB_SYNAUG) $(DSB_PEERS) && \
	 $(DSB) --seed-list 2 --methods $(DSB_SYNAUG)) & \
	($(DSB) --seed-list 1 --methods $(DSB_SYNAUG) $(DSB_PEERS) && \
	 $(DSB) --seed-list 2 --methods $(DSB_PEERS)); wait
	$(DSB) --seed-list 0 1 2 --methods $(SHIFT_ADABN) & \
	$(DSB) --seed-list 3 --methods $(DSB_ROWS) & $(DSB) --seed-list 4 --methods $(DSB_ROWS); wait
	$(DSB) --merge

# groups: several hours; two lanes (one per task family), each in resumable pieces, then merged
# (the pieces' results stay in benchmarks/results/groups_parts/; see benchmarks/groups.py).
# Each lane adds the rows of the shipped generator pretrained on its attribute (colour;
# the fairness task's washed-out capture; the folder is the pretraining script's) and of its
# pool (pool_dfr, pool_retrain).
bench-groups: install fashion-mnist
	for t in spurious_colour fairness; do \
	  g=$$($(PY) scripts/pretrain_attribute_generator.py --attribute-pool $$t --print-out) \
	    || exit 1; \
	  ( for piece in "$$t 0:1" "$$t 1:4" "$$t 4:5" "$${t}_unseen 0:3" "$${t}_unseen 3:5"; do \
	      set -- $$piece; \
	      nice -n 10 $(PY) benchmarks/groups.py --tasks $$1 --seeds $$2 \
	        --pretrained-generator $$g \
	        --out benchmarks/results/groups_parts/$$1-$${2%%:*} || exit 1; \
	    done ) & \
	done; wait
	$(PY) benchmarks/groups.py --merge benchmarks/results/groups_parts/*/groups.json

# smote-variants 1.0.1 declares tensorflow, keras and mkl as requirements: it is installed
# without its dependencies, plus the few modules its import needs (the [bench] extra).
# Runs the datasets in two niced processes (resumable: finished datasets are skipped),
# then times the generator and merges the parts into benchmarks/results/tabular.{md,json}.
bench-tabular: install
	$(PIP_INSTALL) -e ".[test,bench]"
	$(PIP_INSTALL) --no-deps "smote-variants==1.0.1"
	nice -n 10 $(PY) benchmarks/tabular.py --max-datasets 54 --shard 0/2 --threads 1 & \
	nice -n 10 $(PY) benchmarks/tabular.py --max-datasets 54 --shard 1/2 --threads 1; wait
	$(PY) benchmarks/tabular.py --max-datasets 54 --speed --report

# Re-run into benchmarks/results/rerun/, then judge it against the committed results: writes
# benchmarks/results/reproducibility_NAME.{md,json}, fails when a metric is outside noise.
# long_tail re-runs with the settings, seeds and rows recorded in the committed json (--like),
# whichever protocol produced it, in two lanes from scratch (no stored parts, no cached generator).
LT_CHECK := nice -n 10 $(PY) benchmarks/long_tail.py --like benchmarks/results/long_tail.json \
	--threads 1 --parts benchmarks/.work/long_tail_rerun/parts \
	--cache-dir benchmarks/.work/long_tail_rerun/cache --out benchmarks/results/rerun
check-long-tail: install fashion-mnist
	rm -rf benchmarks/.work/long_tail_rerun
	$(LT_CHECK) --seed-list 0 1 & $(LT_CHECK) --seed-list 2; wait
	$(LT_CHECK) --merge
	$(PY) benchmarks/compare_runs.py benchmarks/results/long_tail.json \
	  benchmarks/results/rerun/long_tail.json --check

check-groups: install fashion-mnist
	$(PY) benchmarks/groups.py --seeds 5 --out benchmarks/results/rerun
	$(PY) benchmarks/compare_runs.py benchmarks/results/groups.json \
	  benchmarks/results/rerun/groups.json --check

# Docs: HTML with warnings as errors (numpydoc, sphinx-gallery; see docs/conf.py).
docs: install
	$(PIP_INSTALL) -e ".[test,docs]"
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

lint: install
	$(VENV)/bin/ruff check synaug_learn tests benchmarks examples

clean:
	rm -rf $(VENV) build dist *.egg-info synaug_output

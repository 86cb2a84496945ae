# sdk/textmetrics: shared text metrics (rouge_score's tokenizer on NLTK's
# Porter stemmer, ROUGE-L, SQuAD EM/F1, alias matching). Its tests compare
# against Debian's python3-nltk, which textmetrics-deps installs (.ci/run
# calls it); without it those comparisons skip with a message.

.PHONY: textmetrics-deps test-textmetrics fuzz-textmetrics bench-textmetrics

textmetrics-deps: ## Install Debian's python3-nltk, the stemmer reference of sdk/textmetrics (as root; CI runs this).
	@if /usr/bin/python3 -c 'import nltk.stem.porter' 2>/dev/null; then echo "textmetrics deps: present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-nltk; \
	else echo "python3-nltk missing and not root: apt-get install python3-nltk (the NLTK comparisons skip meanwhile)"; fi

test-textmetrics: textmetrics-deps ## sdk/textmetrics tests, including the comparison with NLTK.
	cd sdk && $(GO) test -count=1 ./textmetrics/

fuzz-textmetrics: ## Fuzz rouge_score's tokenizer (sdk/textmetrics) for FUZZTIME.
	cd sdk && $(GO) test -run '^$$' -fuzz '^FuzzTokenize$$' -fuzztime $(FUZZTIME) ./textmetrics/

# ROUGE-L over CopyBench's 758 literal items x 10 candidates derived from the
# references, Go vs a Python reimplementation of rouge_score on NLTK's stemmer
# (scores must agree exactly). BENCH_TEXTMETRICS_ITEMS=N uses the first N.
# Last line: bench-textmetrics: items_s=N python_items_s=N ratio=R
BENCH_TEXTMETRICS_ITEMS ?= 0
bench-textmetrics: textmetrics-deps ## ROUGE-L on CopyBench literal items: Go vs Python/NLTK (last line machine-readable).
	@mkdir -p $(BIN)
	cd tools && $(GO) build -o $(BIN)/benchtextmetrics ./benchtextmetrics
	$(BIN)/benchtextmetrics -items $(BENCH_TEXTMETRICS_ITEMS) -script sdk/textmetrics/testdata/rouge_ref.py \
	  -data $(or $(SHAMMIE_SHARED_DATA),../shared/data)/copybench/data/data.literal.json

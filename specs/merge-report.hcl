# Merge to Learn's Table 2 and trade-off curves, recomputed from the
# authors' 937-row results table (needs ../shared/data; see
# merge_to_learn/PROVENANCE.md). One report per skill: science reproduces
# Table 2 (Tülu only 49.9/27.9, best retraining 50.6/37.8, best
# train-then-merge 47.1/38.2) and says where choosing on the validation
# split would pick differently; safety and coding have no validation split.

locals {
  results = "${path.spec}/../../shared/data/merge_to_learn/merge_results_consistent_mix.csv"
}

plugin "merge" {
  version = ">= 0.1.0"
}

step "science" {
  plugin = plugin.merge
  config {
    mode    = "report"
    results = local.results
    skill   = "science"
  }
}

step "safety" {
  plugin = plugin.merge
  config {
    mode    = "report"
    results = local.results
    skill   = "safety"
  }
}

step "coding" {
  plugin = plugin.merge
  config {
    mode    = "report"
    results = local.results
    skill   = "coding"
  }
}

# CopyBench (Chen et al. 2024): a tiny byte-level model trained on planted
# "books" copies them literally and non-literally, and not the held-out
# books; then the same model is scored on the real CopyBench files (a
# model this small copies nothing there: the point is the pipeline — the
# reference's prompts, greedy decoding with repetition penalty 1.1 and
# stop on "\n\n\n", the metrics). The real files are copyrighted: the
# evaluate report holds item ids and scores only.

plugin "copybench" {
  version = ">= 0.1.0"
}

step "copybench_planted" {
  plugin = plugin.copybench
  seed   = 1
  config {
    mode               = "planted"
    books              = 6
    held_out           = 3
    prefix_words       = 5
    continuation_words = 8
    layers             = 2
    d_model            = 64
    heads              = 4
    seq                = 144
    batch              = 12
    steps              = 200
    lr                 = 0.01
    warmup             = 20
    weight_decay       = 0
    max_new_tokens     = 90
  }
}

step "copybench_real" {
  plugin = plugin.copybench
  config {
    mode           = "evaluate"
    model          = step.copybench_planted.artifacts.model
    data           = "${path.spec}/../../shared/data/copybench"
    tasks          = ["literal", "nonliteral", "qa"]
    format         = 1
    shots          = 0
    max_items      = 32
    max_new_tokens = 64
  }
}

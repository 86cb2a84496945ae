# Sparse mixture-of-experts LM on the planted two-domain corpus (no external
# data): two Markov chains over the two halves of the byte range, each with a
# domain-wide successor distribution. A small OLMoE-style MoE (bias-free
# router, top-2 of 8 dropless SwiGLU experts, load-balancing + z losses)
# learns to route each domain to its own experts; the run writes OLMoE's
# routing analyses (domain and vocabulary specialisation, router saturation,
# co-activation, expert load over training) with plots.

variable "steps" {
  type    = number
  default = 120
}

plugin "moe" {
  version = ">= 0.1.0"
}

step "corpus" {
  plugin = plugin.moe
  seed   = 3
  config {
    mode             = "generate"
    bytes_per_domain = 100000
  }
}

step "train" {
  plugin = plugin.moe
  seed   = 1
  config {
    mode = "train"
    domains = {
      low  = step.corpus.artifacts.low
      high = step.corpus.artifacts.high
    }
    layers        = 2
    d_model       = 64
    heads         = 4
    seq           = 64
    batch         = 16
    experts       = 8
    top_k         = 2
    expert_hidden = 64
    steps         = var.steps
    lr            = 0.003
    warmup        = 15
    snapshots     = 6
    eval_windows  = 16
  }
}

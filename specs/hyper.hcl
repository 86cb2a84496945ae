# HyPER routing on planted data (part of the default run; no shared data).
#
# The generator plants a subject on which the LM annotator is systematically
# wrong while humans are uniformly noisier everywhere. The router trains one
# Bradley–Terry reward model per knapsack label mixture (all in one batched
# GoMLX graph), fits the quadratic performance prediction model on their
# gold accuracy, and routes at 25/50/75% human budgets; results.json and the
# plots compare it with all-human, all-LM and random routing.

variable "n" {
  type    = number
  default = 3000
}

plugin "router" {
  version = ">= 0.1.0"
}

step "planted" {
  plugin = plugin.router
  seed   = 11
  config {
    mode = "generate"
    n    = var.n
  }
}

step "route" {
  plugin = plugin.router
  seed   = 11
  config {
    mode     = "route"
    data     = step.planted.artifacts.data
    mixtures = 64
    budgets  = [0.25, 0.5, 0.75]
    method   = "topk"
  }
}

# A sweep pipeline: generate data, fit it under several penalties, fit once
# per count index, and collect every loss.
variable "n_concepts" {
  type    = number
  default = 400
  validation {
    condition     = var.n_concepts > 0
    error_message = "n_concepts must be positive."
  }
}

variable "penalties" {
  type    = map(number)
  default = { a = 0.9, b = 2.0 }
}

variable "from_env" {
  type = string
}

locals {
  data   = "${path.spec}/data"
  twice  = local.n * 2
  n      = var.n_concepts
  labels = [for k in keys(var.penalties) : upper(k)]
}

plugin "gen" {
  version = ">= 0.1.0"
}

plugin "trainer" {
  source  = "fit"
  version = "~> 0.1"
}

step "generate" {
  plugin  = plugin.gen
  seed    = 7
  backend = "go"
  config {
    mode    = "generate"
    n       = local.twice
    tags    = local.labels
    options = { alpha = 1, beta = max(2, 3) }
    layer {
      width = 16
    }
    layer {
      width = 8
      act   = "tanh"
    }
  }
}

step "sweep" {
  plugin   = plugin.trainer
  for_each = var.penalties
  config {
    embeddings = step.generate.artifacts.embeddings
    penalty    = each.value
    label      = "${each.key}-${var.from_env}"
  }
}

step "repeat" {
  plugin = plugin.trainer
  count  = 2
  seed   = count.index + 100
  config {
    embeddings = step.sweep["a"].artifacts.model
    penalty    = step.generate.outputs.n + count.index
  }
}

step "pairwise" {
  plugin   = plugin.trainer
  for_each = var.penalties
  config {
    embeddings = step.sweep[each.key].artifacts.model
  }
}

step "collect" {
  plugin     = plugin.trainer
  depends_on = [step.repeat]
  config {
    embeddings = step.generate.artifacts.table
    losses     = [for s in step.sweep : s.outputs.loss]
  }
}

# The router's noise control: the planted generator without its weakness
# (humans and the LM both wrong 30% of the time, on every subject), so no
# routing can beat another but by noise. The route step reports every score
# with an interval and must raise gain_is_noise (with a warning in the log and
# on the plots) instead of presenting its top feature as a finding. Compare
# with specs/hyper.hcl, where the planted subject's gain is far above
# gain_threshold.

variable "n" {
  type    = number
  default = 3000
}

plugin "router" {
  version = ">= 0.3.0"
}

step "control" {
  plugin = plugin.router
  seed   = 11
  config {
    mode     = "generate"
    n        = var.n
    weakness = false
  }
}

step "route" {
  plugin = plugin.router
  seed   = 11
  config {
    mode     = "route"
    data     = step.control.artifacts.data
    mixtures = 64
    budgets  = [0.25, 0.5, 0.75]
    method   = "topk"
  }
}

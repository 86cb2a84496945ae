# Example spec for the linreg example plugin: a small learning-rate sweep.
#   make build && bin/shammie init examples/linreg/linreg.hcl && bin/shammie run examples/linreg/linreg.hcl
variable "samples" {
  type    = number
  default = 2000
}

plugin "linreg" {
  version = ">= 0.1.0"
}

# One run per learning rate; each.key names the run, each.value is the rate.
step "sweep" {
  plugin   = plugin.linreg
  seed     = 7
  for_each = { slow = 0.05, medium = 0.5, fast = 2.0 }
  config {
    samples = var.samples
    lr      = each.value
    steps   = 200
  }
}

# A harder problem (weaker signal), trained with the default settings.
step "hard" {
  plugin = plugin.linreg
  seed   = 7
  config {
    samples    = var.samples
    separation = 0.5
  }
}

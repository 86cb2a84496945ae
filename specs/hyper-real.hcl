# HyPER's performance prediction model on real rows: the reference's 26
# held-out proxy reward models (HelpSteer2-based run; feature swap
# proportions -> RewardBench Overall). Too few rows to judge accuracy; this
# checks the quadratic PPM end to end on real data. Needs ../shared/data.

locals {
  data = "${path.spec}/../../shared/data/hybrid_preferences"
}

plugin "router" {
  version = ">= 0.1.0"
}

# The reference fits both a linear and a quadratic regressor.
step "ppm" {
  plugin   = plugin.router
  seed     = 42
  for_each = { quadratic = "quadratic", linear = "linear" }
  config {
    mode      = "ppm"
    rows      = "${local.data}/proxy_rm_validation_set_features_rewardbench.jsonl"
    target    = "Overall"
    test_frac = 0.2
    ppm_model = each.value
  }
}

plugin "gen" {}

step "text_seed" {
  plugin  = plugin.gen
  seed    = "abc"
  backend = ""
  config { mode = "x" }
}

step "fraction_seed" {
  plugin  = plugin.gen
  seed    = 1.5
  backend = null
  config { mode = "x" }
}

step "upstream_seed" {
  plugin  = plugin.gen
  seed    = step.text_seed.outputs.n
  backend = ["go"]
  config { mode = "x" }
}

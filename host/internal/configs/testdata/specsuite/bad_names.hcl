variable "1n" { default = 1 }

plugin "gen" {
  source = "../../bin/evil"
}

plugin "Fit" {
  source = "Fit"
}

step "a.b" {
  plugin = plugin.gen
  config { mode = "x" }
}

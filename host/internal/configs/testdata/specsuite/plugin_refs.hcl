plugin "gen" { version = ">= 0.1.0" }
plugin "fit" { version = "banana" }
plugin "other" { version = 3 + var.x }

step "quoted" {
  plugin = "gen"
}

step "undeclared" {
  plugin = plugin.gne
}

step "wrong_root" {
  plugin = var.gen
}

step "no_plugin" {
  config { mode = "x" }
}

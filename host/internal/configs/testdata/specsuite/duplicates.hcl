variable "n" { default = 1 }
variable "n" { default = 2 }

locals { x = 1 }
locals { x = 2 }

plugin "gen" {}
plugin "gen" {}

step "a" {
  plugin = plugin.gen
  config { mode = "a" }
  config { mode = "b" }
}

step "a" {
  plugin = plugin.gen
  config { mode = "c" }
}

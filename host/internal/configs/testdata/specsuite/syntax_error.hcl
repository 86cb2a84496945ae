plugin "gen" {
  version = ">= 0.1.0"

step "a" {
  plugin = plugin.gen

# Unknown top-level block, unknown arguments in plugin and step, and an
# attribute where only blocks are allowed: all reported at once.
resource "x" "y" {}

name = "oops"

plugin "gen" {
  verison = ">= 0.1.0"
}

step "a" {
  plugin  = plugin.gen
  retries = 3
  config {
    mode = "x"
  }
  output "y" {}
}

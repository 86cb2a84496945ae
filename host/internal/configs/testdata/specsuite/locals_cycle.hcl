locals {
  a = local.b + 1
  b = local.c + 1
  c = local.a + 1
  d = local.a
  e = 5
  f = upper(local.e)
  g = nosuchfunc(1)
}

plugin "gen" {}

step "s" {
  plugin = plugin.gen
  config {
    mode = "x"
    n    = local.e
  }
}

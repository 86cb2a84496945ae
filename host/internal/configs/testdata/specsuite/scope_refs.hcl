variable "n" { default = 1 }

locals {
  ok  = var.n
  bad = step.generate.outputs.n
}

plugin "gen" {}

step "generate" {
  plugin = plugin.gen
  config {
    mode    = var.mode
    n       = local.missing
    scale   = each.value
    tags    = [count.index]
    options = { x = foo.bar, y = path.nowhere, z = each.nothing }
  }
}

step "sweep" {
  plugin   = plugin.gen
  for_each = { a = 1 }
  config {
    mode  = each.key
    scale = count.index
    n     = each.val
  }
}

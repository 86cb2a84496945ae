variable "keys" {
  type    = list(string)
  default = ["a", "b", "a"]
}

plugin "gen" {}

step "generate" {
  plugin = plugin.gen
  config { mode = "g" }
}

step "both" {
  plugin   = plugin.gen
  for_each = { a = 1 }
  count    = 2
  config { mode = "x" }
}

step "from_output" {
  plugin   = plugin.gen
  for_each = toset(step.generate.outputs.names)
  config { mode = each.key }
}

step "negative" {
  plugin = plugin.gen
  count  = -1
  config { mode = "x" }
}

step "fraction" {
  plugin = plugin.gen
  count  = 1.5
  config { mode = "x" }
}

step "text_count" {
  plugin = plugin.gen
  count  = "many"
  config { mode = "x" }
}

step "number_each" {
  plugin   = plugin.gen
  for_each = 3
  config { mode = "x" }
}

step "dup_keys" {
  plugin   = plugin.gen
  for_each = var.keys
  config { mode = each.key }
}

step "huge" {
  plugin = plugin.gen
  count  = 1e9
  config { mode = "x" }
}

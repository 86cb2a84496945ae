# A plugin with no known schema: reported at the plugin block; its steps'
# configs cannot be checked.
plugin "mystery" {}

step "s" {
  plugin = plugin.mystery
  config { anything = 1 }
}

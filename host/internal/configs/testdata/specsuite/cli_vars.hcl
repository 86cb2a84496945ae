variable "n" {
  type = number
  validation {
    condition     = var.n < 100
    error_message = "n must be below 100."
  }
}

variable "name" { type = string }
variable "sizes" { type = list(number) }
variable "from_env" { type = number }

plugin "gen" {}

step "s" {
  plugin = plugin.gen
  config {
    mode = var.name
    n    = var.n
  }
}

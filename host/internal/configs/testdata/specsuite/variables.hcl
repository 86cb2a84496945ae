variable "bad_type" {
  type = lisst(string)
}

variable "mismatch" {
  type    = number
  default = "ten"
}

variable "dynamic_default" {
  default = var.mismatch
}

variable "other_ref" {
  default = 1
  validation {
    condition     = var.mismatch > 0 && local.x
    error_message = "bad"
  }
}

variable "no_self_ref" {
  default = 1
  validation {
    condition     = true
    error_message = "always"
  }
}

variable "validated" {
  type    = number
  default = -1
  validation {
    condition     = var.validated >= 0
    error_message = "validated must be non-negative, got ${var.validated}."
  }
}

variable "required" {
  type        = number
  description = "no default"
}

variable "obj" {
  type = object({ a = number, b = optional(string, "dflt") })
  default = { a = "x" }
}

variable "flags" {
  type      = bool
  sensitive = "maybe"
}

variable "strange" {
  unknown = 1
  validation {
    condition = var.strange
  }
}

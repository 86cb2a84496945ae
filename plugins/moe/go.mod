module github.com/shammie-ml/shammie/plugins/moe

go 1.26.8

require github.com/shammie-ml/shammie/sdk v0.0.0

require (
	github.com/gomlx/gomlx v0.26.0 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
)

replace github.com/shammie-ml/shammie/sdk => ../../sdk

module github.com/shammie-ml/shammie/plugins/fit

go 1.26.8

require github.com/shammie-ml/shammie/sdk v0.0.0

replace github.com/shammie-ml/shammie/sdk => ../../sdk

module github.com/shammie-ml/shammie/plugins/mod

go 1.26.8

replace github.com/shammie-ml/shammie/sdk => ../../sdk

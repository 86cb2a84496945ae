// Command shammie-plugin-linreg is the example third-party Shammie plugin
// and the template to copy: logistic regression trained by gradient descent
// with GoMLX on data it generates from the step's seed. It uses only the
// public SDK. The skeleton every plugin follows:
//
//	main.go               this doc comment and sdk.Serve, nothing else
//	plugin.go             version, config, schema, Metadata/Schema/ValidateConfig/Run
//	internal/logreg       the method (the pipeline) and its plots
//	internal/planted      the generator of planted data
//	VERSION, CHANGELOG.md the plugin's version (stamped at build) and history
package main

import "github.com/shammie-ml/shammie/sdk"

func main() { sdk.Serve(&Plugin{}) }

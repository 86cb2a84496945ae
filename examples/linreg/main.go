// Command shammie-plugin-linreg is the example third-party Shammie plugin:
// logistic regression trained by gradient descent with GoMLX on data it
// generates from the step's seed. It uses only the public SDK, and is the
// template to copy when writing a plugin (see README.md).
package main

import "github.com/shammie-ml/shammie/sdk"

func main() {
	sdk.Serve(&Plugin{})
}

package moe

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" // dot import: staticcheck.conf allows it for GoMLX graph code only
	"github.com/shammie-ml/shammie/sdk/ml"
)

// BatchMatMul multiplies a [N, M, K] by b [N, K, P] -> [N, M, P] with
// sdk/ml's matmul-shaped gradients (GoMLX's stock DotGeneral gradient
// materialises N·M·K·P).
func BatchMatMul(a, b *Node) *Node {
	return ml.DotGeneral(a, []int{2}, []int{0}, b, []int{1}, []int{0})
}

package moe

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// BatchMatMul multiplies a [N, M, K] by b [N, K, P] -> [N, M, P].
func BatchMatMul(a, b *Node) *Node {
	return Einsum("nmk,nkp->nmp", a, b)
}

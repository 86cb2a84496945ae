// Package protocol is ActionAtlas's evaluation protocol (Salehi et al. 2024,
// github.com/mrsalehi/action-atlas, action_atlas/eval_proprietary.py and
// utils/eval_utils.py) re-implemented in Go: frame sampling by count or by
// fps, the prompt templates, answer parsing, the bootstrap confidence
// interval and the metadata layout. Where the reference's behaviour is a
// crash or unseeded, the deviation is documented on the function and in the
// plugin's README.
package protocol

import "fmt"

// MaxFramesFPS is the reference's cap on frames sampled by fps
// (eval_gpt4_fixed_fps, max_n_frames=100).
const MaxFramesFPS = 100

// SampleByCount picks k of n frames as the reference does
// (eval_gpt4_fixed_nframes): np.linspace(0, n-1, k, dtype=int) for k > 1 —
// the float ramp i·((n-1)/(k-1)) truncated toward zero, the last index
// exactly n-1, repeated indices when k > n — and the middle frame n//2 for
// k = 1.
func SampleByCount(n, k int) ([]int, error) {
	if n <= 0 {
		return nil, fmt.Errorf("a clip without frames")
	}
	if k <= 0 {
		return nil, fmt.Errorf("frame count must be positive, got %d", k)
	}
	if k == 1 {
		return []int{n / 2}, nil
	}
	step := float64(n-1) / float64(k-1)
	out := make([]int, k)
	for i := range k - 1 {
		out[i] = int(float64(i) * step)
	}
	out[k-1] = n - 1
	return out, nil
}

// SampleByFPS picks frames at a target rate as the reference does
// (eval_gpt4_fixed_fps): every int(clipFPS/fps)-th frame from the first,
// then, when more than maxFrames remain, every len//maxFrames-th of those,
// cut to maxFrames (maxFrames ≤ 0: no cap, as the Gemini path).
//
// Deviation: when fps exceeds the clip's rate the reference's interval is
// 0 and Python raises ZeroDivisionError (the item is recorded as an error,
// hence wrong); here the interval is clamped to 1 (every frame).
func SampleByFPS(n int, clipFPS, fps float64, maxFrames int) ([]int, error) {
	if n <= 0 {
		return nil, fmt.Errorf("a clip without frames")
	}
	if !(clipFPS > 0) || !(fps > 0) {
		return nil, fmt.Errorf("frame rates must be positive, got clip %g fps, sampling %g fps", clipFPS, fps)
	}
	interval := max(int(clipFPS/fps), 1)
	var out []int
	for i := 0; i < n; i += interval {
		out = append(out, i)
	}
	if maxFrames > 0 && len(out) > maxFrames {
		stride := len(out) / maxFrames
		var thin []int
		for i := 0; i < len(out) && len(thin) < maxFrames; i += stride {
			thin = append(thin, out[i])
		}
		out = thin
	}
	return out, nil
}

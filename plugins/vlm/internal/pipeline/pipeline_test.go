package pipeline

import "testing"

func TestBucket(t *testing.T) {
	cases := []struct{ n, longest, want int }{
		{135, 209, 144}, {144, 209, 144}, {145, 209, 160}, {200, 209, 208}, {205, 209, 208}, {209, 209, 209}, {1, 20, 16},
	}
	for _, c := range cases {
		if got := bucket(c.n, c.longest); got != c.want {
			t.Errorf("bucket(%d, %d) = %d, want %d", c.n, c.longest, got, c.want)
		}
	}
}
